import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { CallSummary } from '../http/ports.js';

const summarySchema = z.object({
  id: z.string(),
  tenant: z.string(),
  direction: z.enum(['inbound', 'outbound']),
  from: z.string(),
  to: z.string(),
  startedAt: z.string(),
  codec: z.string(),
  provider: z.string(),
  state: z.string(),
  instance: z.string().optional(),
});

const entrySchema = z.object({
  instance: z.string(),
  /** The owner's boot id (its heartbeat record's `boot`); absent in entries of older versions. */
  boot: z.string().optional(),
  /** Set by a janitor once the owner was seen dead (ISO time). */
  lostAt: z.string().optional(),
  summary: summarySchema,
});

/** A call as the registry holds it: its summary and the instance that owns its media and dialog. */
export interface RegisteredCall {
  readonly instance: string;
  readonly boot?: string;
  readonly lostAt?: string;
  readonly summary: CallSummary;
  /** The stored JSON, for compare-and-set. */
  readonly raw: string;
}

/** Replace (with a new TTL) or delete a key only if it still holds what we read: never undo an owner's write. */
const COMPARE_AND_SET = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1`;

/** Parse a relayed or stored summary (another instance wrote it: validate, don't trust). */
export function parseSummary(value: unknown): CallSummary | undefined {
  const r = summarySchema.safeParse(value);
  if (!r.success) return undefined;
  const { instance, ...rest } = r.data;
  return instance === undefined ? rest : { ...rest, instance };
}

function parseEntry(raw: string | null): RegisteredCall | undefined {
  if (raw === null) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const r = entrySchema.safeParse(json);
  if (!r.success) return undefined;
  const summary = parseSummary(r.data.summary);
  if (summary === undefined) return undefined;
  const { boot, lostAt } = r.data;
  return {
    instance: r.data.instance,
    ...(boot === undefined ? {} : { boot }),
    ...(lostAt === undefined ? {} : { lostAt }),
    summary,
    raw,
  };
}

/**
 * Live calls of every instance in Redis: one string key per call holding `{instance, summary}` with a TTL
 * that the owner refreshes, so a crashed instance's calls disappear by themselves. Commands fail fast when
 * Redis is down; callers decide what that means.
 */
export class RedisCallRegistry {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: { redis: Redis; keyPrefix: string }) {
    this.#redis = options.redis;
    this.#prefix = `${options.keyPrefix}call:`;
  }

  /** Write (or refresh) the given calls with `ttlMs`, and drop the ended ones, in one round trip. */
  async sync(
    owner: { readonly instance: string; readonly boot?: string },
    calls: readonly CallSummary[],
    ended: readonly string[],
    ttlMs: number,
  ): Promise<void> {
    if (calls.length === 0 && ended.length === 0) return;
    const pipe = this.#redis.multi();
    for (const summary of calls)
      pipe.set(this.#prefix + summary.id, JSON.stringify({ ...owner, summary }), 'PX', ttlMs);
    if (ended.length > 0) pipe.del(...ended.map((id) => this.#prefix + id));
    const results = await pipe.exec();
    const failed = results?.find(([err]) => err !== null);
    if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('redis transaction aborted');
  }

  /** Mark a call of a dead owner lost, unless the entry changed since it was read. True when marked. */
  async markLost(entry: RegisteredCall, lostAt: string, ttlMs: number): Promise<boolean> {
    const { raw: _raw, ...stored } = entry;
    const value = JSON.stringify({ ...stored, lostAt });
    return (await this.#compareAndSet(entry, value, ttlMs)) === 1;
  }

  /** Delete a call's entry, unless it changed since it was read. True when this call deleted it. */
  async removeIfUnchanged(entry: RegisteredCall): Promise<boolean> {
    return (await this.#compareAndSet(entry, '', 0)) === 1;
  }

  async #compareAndSet(entry: RegisteredCall, value: string, ttlMs: number): Promise<unknown> {
    return this.#redis.eval(
      COMPARE_AND_SET,
      1,
      this.#prefix + entry.summary.id,
      entry.raw,
      value,
      String(Math.max(1, Math.round(ttlMs))),
    );
  }

  async lookup(id: string): Promise<RegisteredCall | undefined> {
    return parseEntry(await this.#redis.get(this.#prefix + id));
  }

  /** Every registered call of every instance. */
  async all(): Promise<RegisteredCall[]> {
    const keys = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await this.#redis.scan(
        cursor,
        'MATCH',
        `${escapeGlob(this.#prefix)}*`,
        'COUNT',
        500,
      );
      cursor = next;
      for (const k of batch) keys.add(k);
    } while (cursor !== '0');
    if (keys.size === 0) return [];
    const values = await this.#redis.mget(...keys);
    const out: RegisteredCall[] = [];
    for (const raw of values) {
      const entry = parseEntry(raw);
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }
}

/** SCAN MATCH treats *?[]\ specially. */
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
