import { lookup } from 'node:dns/promises';
import type { Logger } from '../observability/logger.js';
import { resolveTarget, type Resolve } from '../pinned-post.js';
import type { TenantStore } from '../tenants/store.js';
import type { Outbox } from './outbox.js';
import { WebhookDeliverer } from './webhook-deliverer.js';
import { WebhookPublisher } from './webhook-publisher.js';
import {
  subscriptionFrom,
  type DeliveryRecord,
  type WebhookInput,
  type WebhookSubscription,
} from './webhook-types.js';

const dnsResolve: Resolve = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** A secret as answers show it: its length hidden, its last four characters kept (like credentials). */
function masked(secret: string): string {
  return `****${secret.slice(-4)}`;
}

function view(sub: WebhookSubscription): object {
  return {
    tenant: sub.tenant,
    name: sub.name,
    url: sub.url,
    events: sub.events,
    secret: masked(sub.secret),
    updatedAt: sub.updatedAt,
  };
}

function deliveryView(r: DeliveryRecord): object {
  return {
    id: r.id,
    type: r.type,
    status: r.status,
    attempts: r.attempts,
    created_at: r.createdAt,
    next_attempt_at: r.status === 'pending' ? r.nextAttemptAt : null,
    last_attempt_at: r.lastAttemptAt ?? null,
    last_status_code: r.lastStatusCode ?? null,
    last_error: r.lastError ?? null,
    delivered_at: r.deliveredAt ?? null,
  };
}

export type WebhookStore = Pick<TenantStore, 'putWebhook' | 'getWebhook' | 'deleteWebhook' | 'listWebhooks'>;

export interface WebhookServiceOptions {
  readonly store: WebhookStore;
  readonly outbox: Outbox;
  readonly logger: Logger;
  /** WEBHOOK_ALLOW_PRIVATE: loopback/private receivers allowed (operators, tests). */
  readonly allowPrivate: boolean;
  readonly timeoutMs: number;
  readonly retryBaseMs: number;
  readonly resolve?: Resolve;
  readonly onResult?: (result: 'delivered' | 'retry' | 'failed') => void;
}

/**
 * Event webhooks end to end: subscriptions in the tenant store (sealed), the publisher that turns events
 * into outbox deliveries, and the deliverer that posts them. The HTTP routes' WebhookControl.
 */
export class WebhookService {
  readonly publisher: WebhookPublisher;
  readonly #store: WebhookStore;
  readonly #outbox: Outbox;
  readonly #deliverer: WebhookDeliverer;
  readonly #allowPrivate: boolean;
  readonly #resolve: Resolve;

  constructor(options: WebhookServiceOptions) {
    this.#store = options.store;
    this.#outbox = options.outbox;
    this.#allowPrivate = options.allowPrivate;
    this.#resolve = options.resolve ?? dnsResolve;
    this.#deliverer = new WebhookDeliverer({
      outbox: options.outbox,
      subscription: async (tenant, name) =>
        (await this.publisher.subscriptions(tenant)).find((s) => s.name === name),
      allowPrivate: options.allowPrivate,
      timeoutMs: options.timeoutMs,
      retryBaseMs: options.retryBaseMs,
      logger: options.logger,
      resolve: this.#resolve,
      ...(options.onResult === undefined ? {} : { onResult: options.onResult }),
    });
    this.publisher = new WebhookPublisher({
      outbox: options.outbox,
      deliverer: this.#deliverer,
      subscriptions: (tenant) => this.#subscriptions(tenant),
      logger: options.logger,
    });
  }

  /** Resumes the outbox's pending deliveries; returns how many. */
  start(): Promise<number> {
    return this.#deliverer.start();
  }

  async #subscription(tenant: string, name: string): Promise<WebhookSubscription | undefined> {
    return subscriptionFrom(tenant, name, await this.#store.getWebhook(tenant, name));
  }

  async #subscriptions(tenant: string): Promise<WebhookSubscription[]> {
    return (await this.#store.listWebhooks(tenant)).flatMap((r) => subscriptionFrom(tenant, r.name, r) ?? []);
  }

  async refusal(url: string): Promise<string | undefined> {
    const parsed = new URL(url);
    if (parsed.username !== '' || parsed.password !== '') return 'webhook url must not carry user info';
    const target = await resolveTarget(url, { allowPrivate: this.#allowPrivate, resolve: this.#resolve });
    return target.ok ? undefined : target.error;
  }

  async put(tenant: string, name: string, input: WebhookInput): Promise<boolean> {
    const created = (await this.#store.getWebhook(tenant, name)) === undefined;
    await this.#store.putWebhook(tenant, name, { ...input });
    this.publisher.invalidate(tenant);
    return created;
  }

  async get(tenant: string, name: string): Promise<object | undefined> {
    const sub = await this.#subscription(tenant, name);
    return sub === undefined ? undefined : view(sub);
  }

  async list(tenant: string): Promise<object[]> {
    return (await this.#subscriptions(tenant)).map(view);
  }

  async delete(tenant: string, name: string): Promise<boolean> {
    const existed = await this.#store.deleteWebhook(tenant, name);
    this.publisher.invalidate(tenant);
    return existed;
  }

  async deliveries(tenant: string, name: string, limit: number): Promise<object[]> {
    return (await this.#outbox.recent(tenant, name, limit)).map(deliveryView);
  }

  /** Stops attempts (those in flight stay pending for the next start) and closes the outbox. */
  async close(): Promise<void> {
    this.#deliverer.close();
    await this.publisher.flushed();
    await this.#outbox.close();
  }
}
