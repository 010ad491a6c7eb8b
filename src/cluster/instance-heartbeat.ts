import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '../observability/logger.js';

/** What an instance says about itself: `draining` instances still own (and answer for) their calls. */
export type InstanceStatus = 'serving' | 'draining';

const recordSchema = z.object({
  status: z.enum(['serving', 'draining']),
  /** Random per process start: a restarted instance with the same id is a new owner. */
  boot: z.string().min(1).max(64),
  startedAt: z.string(),
  heartbeatAt: z.string(),
});

/** The value of an instance's liveness key (JSON), while its TTL lasts. */
export type InstanceRecord = z.infer<typeof recordSchema>;

export const instanceKey = (keyPrefix: string, instanceId: string): string =>
  `${keyPrefix}instance:${instanceId}`;

function parseRecord(raw: string | null): InstanceRecord | undefined {
  if (raw === null) return undefined;
  try {
    const r = recordSchema.safeParse(JSON.parse(raw));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The liveness records of the given instances, in one MGET; a missing (expired) or unreadable key maps to
 * undefined: that instance is dead. Rejects when Redis is unreachable (callers must not conclude anything).
 */
export async function readInstances(
  redis: Redis,
  keyPrefix: string,
  ids: Iterable<string>,
): Promise<Map<string, InstanceRecord | undefined>> {
  const list = [...new Set(ids)];
  const out = new Map<string, InstanceRecord | undefined>();
  if (list.length === 0) return out;
  const values = await redis.mget(...list.map((id) => instanceKey(keyPrefix, id)));
  list.forEach((id, i) => out.set(id, parseRecord(values[i] ?? null)));
  return out;
}

export interface InstanceHeartbeatOptions {
  readonly redis: Redis;
  readonly keyPrefix: string;
  readonly instanceId: string;
  readonly logger: Logger;
  /** How often the key is rewritten. Default 5000. */
  readonly intervalMs?: number;
  /** Key TTL: the instance counts as dead this long after its last beat. Default 3 × interval. */
  readonly ttlMs?: number;
}

/**
 * Per-instance liveness in Redis: `<prefix>instance:<id>` holds an {@link InstanceRecord} with a TTL of about
 * three beats, so one late beat (a loaded event loop, a Redis blip) is tolerated and a dead process is noticed
 * by every other instance within the TTL. Writes fail fast and are retried on the next beat.
 */
export class InstanceHeartbeat {
  readonly #o: InstanceHeartbeatOptions;
  readonly #log: Logger;
  readonly #key: string;
  readonly boot = randomBytes(6).toString('hex');
  readonly #startedAt = new Date().toISOString();
  #status: InstanceStatus = 'serving';
  #timer: NodeJS.Timeout | undefined;
  #failing = false;
  #stopped = false;
  /** A (re)connection beats at once: the command connection has no offline queue, so a beat sent before it
   * was ready failed, and waiting a whole interval would leave calls published meanwhile looking ownerless. */
  readonly #onReady = (): void => {
    if (this.#timer !== undefined) void this.beat();
  };

  constructor(options: InstanceHeartbeatOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'cluster-heartbeat', instance: options.instanceId });
    this.#key = instanceKey(options.keyPrefix, options.instanceId);
  }

  get intervalMs(): number {
    return this.#o.intervalMs ?? 5000;
  }

  get ttlMs(): number {
    return this.#o.ttlMs ?? 3 * this.intervalMs;
  }

  get status(): InstanceStatus {
    return this.#status;
  }

  /** Beat now and then every interval. Resolves after the first beat (true when it reached Redis). */
  start(): Promise<boolean> {
    this.#timer = setInterval(() => void this.beat(), this.intervalMs);
    this.#timer.unref();
    this.#o.redis.on('ready', this.#onReady);
    return this.beat();
  }

  /** Announce a new status (drain: `draining`) at once and in every later beat. */
  async setStatus(status: InstanceStatus): Promise<boolean> {
    this.#status = status;
    return this.beat();
  }

  /** Write the record now. Never rejects: false when Redis did not take it. */
  async beat(): Promise<boolean> {
    if (this.#stopped) return false;
    const record: InstanceRecord = {
      status: this.#status,
      boot: this.boot,
      startedAt: this.#startedAt,
      heartbeatAt: new Date().toISOString(),
    };
    try {
      await this.#o.redis.set(this.#key, JSON.stringify(record), 'PX', this.ttlMs);
      if (this.#failing) this.#log.info('instance heartbeat written again');
      this.#failing = false;
      return true;
    } catch (err) {
      if (!this.#failing) this.#log.warn({ err: (err as Error).message }, 'instance heartbeat not written');
      this.#failing = true;
      return false;
    }
  }

  /** Stop beating without touching Redis (a crash, as others see it: the key expires by itself). */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#o.redis.off('ready', this.#onReady);
  }

  /** Stop and remove the key, so other instances see at once that this one is gone (best effort). */
  async close(): Promise<void> {
    this.stop();
    await this.#o.redis.del(this.#key).catch(() => undefined);
  }
}
