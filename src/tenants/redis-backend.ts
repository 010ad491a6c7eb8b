import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import type { RecordBackend } from './record-backend.js';

/** SET only if the value is still the one read (ARGV[1] = 1) or the key is still absent (ARGV[1] = 0). */
const COMPARE_AND_SET = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1`;

/**
 * Records as Redis strings under a key prefix. Commands fail fast while disconnected (no offline queue),
 * so callers can fall back to their last known data; ioredis reconnects by itself.
 */
export class RedisRecordBackend implements RecordBackend {
  readonly kind = 'redis' as const;
  readonly client: Redis;
  readonly #prefix: string;

  constructor(options: { url: string; logger: Logger; keyPrefix?: string; client?: Redis }) {
    this.#prefix = options.keyPrefix ?? 'switchboard:';
    this.client =
      options.client ??
      new Redis(options.url, {
        lazyConnect: false,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
        retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 3000),
      });
    const log = options.logger.child({ component: 'redis' });
    let down = false;
    this.client.on('error', (err: Error) => {
      if (!down) log.warn({ err: err.message }, 'redis unavailable; retrying');
      down = true;
    });
    this.client.on('ready', () => {
      if (down) log.info('redis reconnected');
      down = false;
    });
  }

  /** Resolves once connected (or rejects after the connect timeout). */
  async ready(timeoutMs = 3000): Promise<void> {
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`redis not ready after ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = (): void => {
        cleanup();
        resolve();
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
      };
      this.client.on('ready', onReady);
    });
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.client.get(this.#prefix + key)) ?? undefined;
  }

  async set(key: string, value: string): Promise<void> {
    await this.client.set(this.#prefix + key, value);
  }

  async compareAndSet(key: string, expected: string | undefined, value: string): Promise<boolean> {
    const done = await this.client.eval(
      COMPARE_AND_SET,
      1,
      this.#prefix + key,
      expected === undefined ? 0 : 1,
      expected ?? '',
      value,
    );
    return done === 1;
  }

  async delete(key: string): Promise<boolean> {
    return (await this.client.del(this.#prefix + key)) > 0;
  }

  async keys(prefix: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.client.scan(
        cursor,
        'MATCH',
        `${this.#escape(this.#prefix + prefix)}*`,
        'COUNT',
        500,
      );
      cursor = next;
      for (const k of batch) found.push(k.slice(this.#prefix.length));
    } while (cursor !== '0');
    return [...new Set(found)].sort();
  }

  /** SCAN MATCH treats *?[]\ specially; tenant names cannot contain them, but prefixes are escaped anyway. */
  #escape(pattern: string): string {
    return pattern.replace(/[*?[\]\\]/g, '\\$&');
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
