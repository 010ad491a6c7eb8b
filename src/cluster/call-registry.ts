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

const entrySchema = z.object({ instance: z.string(), summary: summarySchema });

/** A call as the registry holds it: its summary and the instance that owns its media and dialog. */
export interface RegisteredCall {
  readonly instance: string;
  readonly summary: CallSummary;
}

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
  return summary === undefined ? undefined : { instance: r.data.instance, summary };
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
    instance: string,
    calls: readonly CallSummary[],
    ended: readonly string[],
    ttlMs: number,
  ): Promise<void> {
    if (calls.length === 0 && ended.length === 0) return;
    const pipe = this.#redis.multi();
    for (const summary of calls)
      pipe.set(this.#prefix + summary.id, JSON.stringify({ instance, summary }), 'PX', ttlMs);
    if (ended.length > 0) pipe.del(...ended.map((id) => this.#prefix + id));
    const results = await pipe.exec();
    const failed = results?.find(([err]) => err !== null);
    if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('redis transaction aborted');
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
