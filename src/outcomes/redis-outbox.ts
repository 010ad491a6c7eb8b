import type { Redis } from 'ioredis';
import { compacted, newestFirst, type Outbox } from './outbox.js';
import type { DeliveryRecord } from './webhook-types.js';

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * The outbox in Redis: one hash per tenant (`<prefix>outbox:<tenant>`, field = delivery key, value = the
 * record's JSON) shared by every instance. HSETNX deduplicates; an attempt takes a short lease
 * (`SET … NX PX`) so two instances never post the same delivery at once; finished records beyond the
 * newest per webhook are trimmed every so often.
 */
export class RedisOutbox implements Outbox {
  readonly kind = 'redis' as const;
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #instance: string;
  readonly #finishedSinceTrim = new Map<string, number>();

  constructor(options: { client: Redis; keyPrefix: string; instanceId: string }) {
    this.#client = options.client;
    this.#prefix = options.keyPrefix;
    this.#instance = options.instanceId;
  }

  #hash(tenant: string): string {
    return `${this.#prefix}outbox:${tenant}`;
  }

  #parse(raw: string | null): DeliveryRecord | undefined {
    if (raw === null) return undefined;
    try {
      return JSON.parse(raw) as DeliveryRecord;
    } catch {
      return undefined;
    }
  }

  async add(record: DeliveryRecord): Promise<boolean> {
    return (await this.#client.hsetnx(this.#hash(record.tenant), record.key, JSON.stringify(record))) === 1;
  }

  async update(record: DeliveryRecord): Promise<void> {
    await this.#client.hset(this.#hash(record.tenant), record.key, JSON.stringify(record));
    if (record.status === 'pending') return;
    const finished = (this.#finishedSinceTrim.get(record.tenant) ?? 0) + 1;
    this.#finishedSinceTrim.set(record.tenant, finished);
    if (finished >= 50) {
      this.#finishedSinceTrim.set(record.tenant, 0);
      await this.#trim(record.tenant);
    }
  }

  async #trim(tenant: string): Promise<void> {
    const all = (await this.#client.hvals(this.#hash(tenant))).flatMap((v) => this.#parse(v) ?? []);
    const keep = new Set(compacted(all).map((r) => r.key));
    const drop = all.filter((r) => !keep.has(r.key)).map((r) => r.key);
    if (drop.length > 0) await this.#client.hdel(this.#hash(tenant), ...drop);
  }

  async get(tenant: string, key: string): Promise<DeliveryRecord | undefined> {
    return this.#parse(await this.#client.hget(this.#hash(tenant), key));
  }

  #lease(record: DeliveryRecord): string {
    return `${this.#prefix}outbox-lease:${record.tenant}:${record.key}`;
  }

  async claim(record: DeliveryRecord, ttlMs: number): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    return (await this.#client.set(this.#lease(record), this.#instance, 'PX', ttl, 'NX')) === 'OK';
  }

  /** Only our own lease (one that expired and was taken by another instance stays theirs). */
  async release(record: DeliveryRecord): Promise<void> {
    await this.#client.eval(RELEASE, 1, this.#lease(record), this.#instance);
  }

  async pending(): Promise<DeliveryRecord[]> {
    const out: DeliveryRecord[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.#client.scan(
        cursor,
        'MATCH',
        `${this.#escape(this.#prefix)}outbox:*`,
        'COUNT',
        200,
      );
      cursor = next;
      for (const key of keys) {
        for (const raw of await this.#client.hvals(key)) {
          const r = this.#parse(raw);
          if (r?.status === 'pending') out.push(r);
        }
      }
    } while (cursor !== '0');
    return out;
  }

  async recent(tenant: string, webhook: string, limit: number): Promise<DeliveryRecord[]> {
    const all = (await this.#client.hvals(this.#hash(tenant))).flatMap((v) => this.#parse(v) ?? []);
    return all
      .filter((r) => r.webhook === webhook)
      .sort(newestFirst)
      .slice(0, limit);
  }

  #escape(pattern: string): string {
    return pattern.replace(/[*?[\]\\]/g, '\\$&');
  }

  async close(): Promise<void> {
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }
}
