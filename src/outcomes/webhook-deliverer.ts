import { lookup } from 'node:dns/promises';
import type { Logger } from '../observability/logger.js';
import { pinnedPost, resolveTarget, type Resolve } from '../pinned-post.js';
import type { Outbox } from './outbox.js';
import { SIGNATURE_HEADER, signatureHeader } from './signature.js';
import type { DeliveryRecord, WebhookSubscription } from './webhook-types.js';

/** Deliveries older than this are dropped and marked failed (issue 16: retried for up to 24 h). */
export const MAX_DELIVERY_AGE_MS = 24 * 3600_000;
/** The backoff doubles from the base up to this. */
export const MAX_RETRY_DELAY_MS = 10 * 60_000;
/** Receivers answer briefly; anything longer is read up to this and then cut. */
const MAX_RESPONSE_BYTES = 16 * 1024;
/** How often pending deliveries are re-read from the outbox (another instance's, after its death). */
const SWEEP_MS = 30_000;

const dnsResolve: Resolve = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** The delay before attempt `attempts + 1`, after `attempts` failed ones: base, 2×base, 4×base … capped. */
export function retryDelayMs(attempts: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempts - 1), MAX_RETRY_DELAY_MS);
}

export interface DelivererOptions {
  readonly outbox: Outbox;
  /** The current subscription (secret and url are re-read per attempt: a PUT takes effect on retries). */
  readonly subscription: (tenant: string, name: string) => Promise<WebhookSubscription | undefined>;
  readonly allowPrivate: boolean;
  readonly timeoutMs: number;
  readonly retryBaseMs: number;
  readonly logger: Logger;
  readonly resolve?: Resolve;
  readonly now?: () => number;
  /** Counts attempt results (`delivered`, `retry`, `failed`). */
  readonly onResult?: (result: 'delivered' | 'retry' | 'failed') => void;
}

/**
 * Posts outbox deliveries, each on its own: a timer per pending delivery, one attempt at a time per
 * delivery, no queue between deliveries (a receiver that hangs holds only its own, for `timeoutMs`). State
 * is written to the outbox after every attempt; on close, attempts in flight are aborted and stay pending,
 * so the next start resumes them.
 */
export class WebhookDeliverer {
  readonly #o: DelivererOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #inFlight = new Map<string, AbortController>();
  #sweep: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: DelivererOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'webhooks' });
    this.#now = options.now ?? Date.now;
  }

  /** Resume every pending delivery in the outbox, then keep sweeping for ones nobody is attempting. */
  async start(): Promise<number> {
    const resumed = await this.#resume();
    this.#sweep = setInterval(() => void this.#resume().catch(() => undefined), SWEEP_MS);
    this.#sweep.unref();
    return resumed;
  }

  async #resume(): Promise<number> {
    let n = 0;
    for (const r of await this.#o.outbox.pending()) {
      if (this.#timers.has(r.key) || this.#inFlight.has(r.key)) continue;
      this.schedule(r);
      n++;
    }
    return n;
  }

  /** Attempt `record` at its `nextAttemptAt` (at once if that has passed). */
  schedule(record: DeliveryRecord): void {
    if (this.#closed || record.status !== 'pending' || this.#timers.has(record.key)) return;
    const delayMs = Math.max(0, Date.parse(record.nextAttemptAt) - this.#now());
    const timer = setTimeout(() => {
      this.#timers.delete(record.key);
      void this.#attempt(record).catch((err: unknown) =>
        this.#log.warn({ err: (err as Error).message, delivery: record.key }, 'webhook attempt failed'),
      );
    }, delayMs);
    this.#timers.set(record.key, timer);
  }

  async #attempt(queued: DeliveryRecord): Promise<void> {
    if (this.#closed || this.#inFlight.has(queued.key)) return;
    const controller = new AbortController();
    this.#inFlight.set(queued.key, controller);
    try {
      if (!(await this.#o.outbox.claim(queued, this.#o.timeoutMs + 5000))) return;
      try {
        const record = await this.#o.outbox.get(queued.tenant, queued.key);
        if (record?.status !== 'pending') return;
        const result = await this.#post(record, controller.signal);
        // Shutdown aborted the attempt: it did not happen, the next start makes it again.
        if (this.#closed) return;
        await this.#settle(record, result);
      } finally {
        await this.#o.outbox.release(queued);
      }
    } finally {
      this.#inFlight.delete(queued.key);
    }
  }

  async #post(
    record: DeliveryRecord,
    signal: AbortSignal,
  ): Promise<{ ok: boolean; statusCode?: number; error?: string; final?: boolean }> {
    const sub = await this.#o.subscription(record.tenant, record.webhook);
    if (sub === undefined) return { ok: false, error: 'webhook deleted', final: true };
    const target = await resolveTarget(sub.url, {
      allowPrivate: this.#o.allowPrivate,
      resolve: this.#o.resolve ?? dnsResolve,
    });
    if (!target.ok) return { ok: false, error: target.error };
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.#o.timeoutMs);
    const onClose = (): void => abort.abort();
    signal.addEventListener('abort', onClose);
    try {
      const res = await pinnedPost(target.url, target.address, record.body, {
        signal: abort.signal,
        maxBodyBytes: MAX_RESPONSE_BYTES,
        userAgent: 'switchboard-events/1',
        headers: { [SIGNATURE_HEADER]: signatureHeader(sub.secret, record.body, this.#now() / 1000) },
      });
      const ok = res.status >= 200 && res.status <= 299;
      return ok
        ? { ok, statusCode: res.status }
        : { ok, statusCode: res.status, error: `HTTP ${res.status}` };
    } catch (err) {
      return {
        ok: false,
        error: abort.signal.aborted ? `timed out after ${this.#o.timeoutMs} ms` : (err as Error).message,
      };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onClose);
    }
  }

  async #settle(
    record: DeliveryRecord,
    result: { ok: boolean; statusCode?: number; error?: string; final?: boolean },
  ): Promise<void> {
    const now = this.#now();
    const attempts = record.attempts + 1;
    const base = {
      ...record,
      attempts,
      lastAttemptAt: new Date(now).toISOString(),
      ...(result.statusCode === undefined ? {} : { lastStatusCode: result.statusCode }),
      ...(result.error === undefined ? {} : { lastError: result.error.slice(0, 300) }),
    };
    if (result.ok) {
      const { lastError: _dropped, ...rest } = base;
      await this.#o.outbox.update({ ...rest, status: 'delivered', deliveredAt: base.lastAttemptAt });
      this.#o.onResult?.('delivered');
      return;
    }
    const nextAt = now + retryDelayMs(attempts, this.#o.retryBaseMs);
    if (result.final === true || nextAt - Date.parse(record.createdAt) > MAX_DELIVERY_AGE_MS) {
      await this.#o.outbox.update({ ...base, status: 'failed' });
      this.#log.warn(
        { tenant: record.tenant, webhook: record.webhook, attempts },
        'webhook delivery dropped',
      );
      this.#o.onResult?.('failed');
      return;
    }
    const next: DeliveryRecord = { ...base, nextAttemptAt: new Date(nextAt).toISOString() };
    await this.#o.outbox.update(next);
    this.#o.onResult?.('retry');
    this.schedule(next);
  }

  /** Stop: no new attempts; attempts in flight are aborted and stay pending in the outbox. */
  close(): void {
    this.#closed = true;
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    for (const c of this.#inFlight.values()) c.abort();
  }
}
