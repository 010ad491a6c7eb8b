import type { DeliveryRecord } from './webhook-types.js';

/**
 * The durable outbox of event webhook deliveries (issue 16): the file store (JSONL per tenant) or Redis,
 * whichever backs the TenantStore. Every state change is written before it is acted on, so a restart
 * resumes what was pending.
 */
export interface Outbox {
  readonly kind: 'redis' | 'file';
  /** Store a new delivery; false (and nothing written) when its key is already there (deduplication). */
  add(record: DeliveryRecord): Promise<boolean>;
  /** Store a delivery's new state (after an attempt). */
  update(record: DeliveryRecord): Promise<void>;
  /** The stored state of one delivery. */
  get(tenant: string, key: string): Promise<DeliveryRecord | undefined>;
  /**
   * Take the right to attempt a delivery for `ttlMs` (several instances share a Redis outbox: one attempt at
   * a time). The file store has one owner process: always true.
   */
  claim(record: DeliveryRecord, ttlMs: number): Promise<boolean>;
  /** Give the claim back after the attempt's state is written. */
  release(record: DeliveryRecord): Promise<void>;
  /** Every pending delivery, of every tenant (resumed on start and by the periodic sweep). */
  pending(): Promise<DeliveryRecord[]>;
  /** The most recent deliveries of one webhook, newest first. */
  recent(tenant: string, webhook: string, limit: number): Promise<DeliveryRecord[]>;
  close(): Promise<void>;
}

/** Finished deliveries kept per webhook for `GET …/deliveries`; older ones are compacted away. */
export const KEEP_FINISHED_PER_WEBHOOK = 100;

/** The records to keep of one tenant: every pending one, and the newest finished ones per webhook. */
export function compacted(records: Iterable<DeliveryRecord>): DeliveryRecord[] {
  const finished = new Map<string, DeliveryRecord[]>();
  const keep: DeliveryRecord[] = [];
  for (const r of records) {
    if (r.status === 'pending') keep.push(r);
    else {
      const list = finished.get(r.webhook) ?? [];
      list.push(r);
      finished.set(r.webhook, list);
    }
  }
  for (const list of finished.values()) {
    list.sort(newestFirst);
    keep.push(...list.slice(0, KEEP_FINISHED_PER_WEBHOOK));
  }
  return keep;
}

export function newestFirst(a: DeliveryRecord, b: DeliveryRecord): number {
  return a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.key < b.key ? 1 : -1;
}
