/**
 * The Redis call history: each record as a JSON string `<prefix>cdr:<id>` (expiring with the retention), and
 * sorted sets by end time, one for every call (`<prefix>cdrs`) and one per tenant (`<prefix>cdrs:t:<tenant>`),
 * whose members are call ids. Pruning trims the sorted sets; the records expire on their own. Shared by every
 * instance of a deployment (same key prefix).
 */
import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import type { CallRecord } from './cdr.js';
import {
  afterCursor,
  DAY_MS,
  decodeCursor,
  encodeCursor,
  endedMsOf,
  type CallHistory,
  type CursorPosition,
  type HistoryPage,
  type HistoryQuery,
} from './call-history.js';

export interface RedisCallHistoryOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly retentionDays: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

const BATCH = 200;

export class RedisCallHistory implements CallHistory {
  readonly kind = 'redis' as const;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #retentionMs: number;
  readonly #now: () => number;

  constructor(options: RedisCallHistoryOptions) {
    this.#prefix = options.keyPrefix;
    this.#retentionMs = options.retentionDays * DAY_MS;
    this.#now = options.now ?? Date.now;
    // A call's record is written once at its end: queue it through a short outage rather than lose it.
    this.#redis = new Redis(options.url, {
      enableOfflineQueue: true,
      maxRetriesPerRequest: 3,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 3000),
    });
    const log = options.logger.child({ component: 'call-history' });
    let down = false;
    this.#redis.on('error', (err: Error) => {
      if (!down) log.warn({ err: err.message }, 'redis unavailable; retrying');
      down = true;
    });
    this.#redis.on('ready', () => (down = false));
  }

  #record(id: string): string {
    return `${this.#prefix}cdr:${id}`;
  }

  #set(tenant: string | undefined): string {
    return tenant === undefined ? `${this.#prefix}cdrs` : `${this.#prefix}cdrs:t:${tenant}`;
  }

  async put(record: CallRecord): Promise<void> {
    const { cdr } = record;
    const endedMs = endedMsOf(cdr);
    const ttlMs = Math.max(1000, endedMs + this.#retentionMs - this.#now());
    await this.#redis
      .multi()
      .set(this.#record(cdr.id), JSON.stringify(record), 'PX', ttlMs)
      .zadd(this.#set(undefined), endedMs, cdr.id)
      .zadd(this.#set(cdr.tenant), endedMs, cdr.id)
      .sadd(`${this.#prefix}cdrs:tenants`, cdr.tenant)
      .exec();
  }

  async get(id: string): Promise<CallRecord | undefined> {
    const raw = await this.#redis.get(this.#record(id));
    return raw === null ? undefined : (JSON.parse(raw) as CallRecord);
  }

  async list(query: HistoryQuery): Promise<HistoryPage> {
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const key = this.#set(query.tenant);
    // Newest first, from the cursor's end time (inclusive: ties are told apart by id) or `until` (exclusive).
    let max = query.untilMs === undefined ? '+inf' : `(${query.untilMs}`;
    if (cursor !== undefined && (query.untilMs === undefined || cursor.endedMs < query.untilMs))
      max = String(cursor.endedMs);
    const min = query.sinceMs === undefined ? '-inf' : String(query.sinceMs);
    const found: CursorPosition[] = [];
    for (let offset = 0; found.length <= query.limit; offset += BATCH) {
      const rows = await this.#redis.zrevrangebyscore(key, max, min, 'WITHSCORES', 'LIMIT', offset, BATCH);
      for (let i = 0; i + 1 < rows.length; i += 2) {
        const p = { id: rows[i] as string, endedMs: Number(rows[i + 1]) };
        if (afterCursor(p, cursor)) found.push(p);
      }
      if (rows.length < BATCH * 2) break;
    }
    const page = found.slice(0, query.limit);
    const raws = page.length === 0 ? [] : await this.#redis.mget(page.map((p) => this.#record(p.id)));
    const calls = raws.flatMap((raw) => (raw === null ? [] : [(JSON.parse(raw) as CallRecord).cdr]));
    const last = page[page.length - 1];
    return found.length > query.limit && last !== undefined
      ? { calls, nextCursor: encodeCursor(last) }
      : { calls };
  }

  async prune(beforeMs: number): Promise<number> {
    const tenants = await this.#redis.smembers(`${this.#prefix}cdrs:tenants`);
    const old = await this.#redis.zrangebyscore(this.#set(undefined), '-inf', `(${beforeMs}`);
    // The records expire on their own; deleting them too makes the cut exact (in bounded batches).
    for (let i = 0; i < old.length; i += BATCH)
      await this.#redis.del(...old.slice(i, i + BATCH).map((id) => this.#record(id)));
    const tx = this.#redis.multi().zremrangebyscore(this.#set(undefined), '-inf', `(${beforeMs}`);
    for (const t of tenants) tx.zremrangebyscore(this.#set(t), '-inf', `(${beforeMs}`);
    await tx.exec();
    return old.length;
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
