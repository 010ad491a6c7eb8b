import { randomUUID } from 'node:crypto';
import type { Logger } from '../observability/logger.js';
import type { Outbox } from './outbox.js';
import type { WebhookDeliverer } from './webhook-deliverer.js';
import type { DeliveryRecord, WebhookEventType, WebhookSubscription } from './webhook-types.js';

/** How long a tenant's subscription list is reused (a PUT/DELETE through this instance drops it at once). */
const SUBSCRIPTIONS_TTL_MS = 2000;
/** Events waiting for the outbox at most; beyond, new ones are dropped (and counted) rather than queued. */
const MAX_QUEUED_EVENTS = 10_000;

/**
 * Turns events into outbox deliveries, one per subscribed webhook. `publish` is synchronous and cheap (it
 * queues); the subscription lookup, the outbox append and the first attempt happen after it returns, so a
 * call never waits for its webhooks.
 */
export class WebhookPublisher {
  readonly #outbox: Outbox;
  readonly #deliverer: WebhookDeliverer;
  readonly #list: (tenant: string) => Promise<WebhookSubscription[]>;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #cache = new Map<string, { at: number; subs: Promise<WebhookSubscription[]> }>();
  #queued = 0;
  #dropped = 0;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: {
    outbox: Outbox;
    deliverer: WebhookDeliverer;
    subscriptions: (tenant: string) => Promise<WebhookSubscription[]>;
    logger: Logger;
    now?: () => number;
  }) {
    this.#outbox = options.outbox;
    this.#deliverer = options.deliverer;
    this.#list = options.subscriptions;
    this.#log = options.logger.child({ component: 'webhooks' });
    this.#now = options.now ?? Date.now;
  }

  get dropped(): number {
    return this.#dropped;
  }

  /** A tenant's subscriptions changed here: the next event re-reads them. */
  invalidate(tenant: string): void {
    this.#cache.delete(tenant);
  }

  /** A tenant's subscriptions, re-read at most every 2 s (the deliverer asks on every attempt). */
  subscriptions(tenant: string): Promise<WebhookSubscription[]> {
    const hit = this.#cache.get(tenant);
    if (hit !== undefined && this.#now() - hit.at < SUBSCRIPTIONS_TTL_MS) return hit.subs;
    const subs = this.#list(tenant);
    this.#cache.set(tenant, { at: this.#now(), subs });
    subs.catch(() => this.#cache.delete(tenant));
    return subs;
  }

  /** Queue `type` for every webhook of `tenant` that subscribes to it. Never throws, never waits. */
  publish(tenant: string, type: WebhookEventType, data: Readonly<Record<string, unknown>>): void {
    if (this.#queued >= MAX_QUEUED_EVENTS) {
      if (this.#dropped++ === 0) this.#log.error('webhook event queue full; dropping events');
      return;
    }
    this.#queued++;
    const createdAt = new Date(this.#now()).toISOString();
    const event = { id: `evt_${randomUUID()}`, type, created_at: createdAt, tenant, data };
    // Events do not wait for each other: each is durable in the outbox before its first attempt, and every
    // delivery is independent anyway (receivers order by created_at, deduplicate by id).
    const stored = this.#enqueue(event)
      .catch((err: unknown) =>
        this.#log.warn({ err: (err as Error).message, tenant, type }, 'webhook event not stored'),
      )
      .finally(() => {
        this.#queued--;
        this.#inFlight.delete(stored);
      });
    this.#inFlight.add(stored);
  }

  async #enqueue(event: {
    id: string;
    type: WebhookEventType;
    created_at: string;
    tenant: string;
    data: unknown;
  }): Promise<void> {
    const subs = (await this.subscriptions(event.tenant)).filter((s) => s.events.includes(event.type));
    if (subs.length === 0) return;
    const body = JSON.stringify(event);
    const records = subs.map((sub): DeliveryRecord => ({
      key: `${event.id}:${sub.name}`,
      id: event.id,
      tenant: event.tenant,
      webhook: sub.name,
      type: event.type,
      body,
      createdAt: event.created_at,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: event.created_at,
    }));
    await Promise.all(
      records.map(async (record) => {
        if (await this.#outbox.add(record)) this.#deliverer.schedule(record);
      }),
    );
  }

  /** Resolves once every event published so far is in the outbox. */
  async flushed(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }
}
