import type { Redis } from 'ioredis';
import type { Counter } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import type { RedisCallRegistry, RegisteredCall } from './call-registry.js';
import { readInstances, type InstanceRecord } from './instance-heartbeat.js';

/** Instance id → its liveness record, undefined when its heartbeat key is gone. */
export type Liveness = ReadonlyMap<string, InstanceRecord | undefined>;

/** Reads the liveness records of some instances (rejects when Redis is unreachable). */
export type LivenessReader = (instanceIds: Iterable<string>) => Promise<Liveness>;

export function livenessReader(redis: Redis, keyPrefix: string): LivenessReader {
  return (ids) => readInstances(redis, keyPrefix, ids);
}

/**
 * Whether a registered call's owner is dead: its heartbeat expired, or the heartbeat now belongs to a later
 * boot of the same instance id (a restart with a fixed INSTANCE_ID: the old process's calls died with it).
 * Entries without a boot id come from versions that write no heartbeat; they only expire with their TTL.
 */
export function isLost(entry: RegisteredCall, liveness: Liveness): boolean {
  if (entry.boot === undefined) return false;
  const owner = liveness.get(entry.instance);
  return owner === undefined || owner.boot !== entry.boot;
}

/** Whether an entry belongs to this very process (its calls are in the local table, not the registry). */
export const isOwn = (entry: RegisteredCall, instanceId: string, boot: string): boolean =>
  entry.instance === instanceId && (entry.boot === undefined || entry.boot === boot);

export interface LostCallJanitorOptions {
  readonly registry: RedisCallRegistry;
  readonly liveness: LivenessReader;
  readonly instanceId: string;
  readonly boot: string;
  readonly logger: Logger;
  /** How often the registry is swept. Default 5000. */
  readonly intervalMs?: number;
  /** A lost call stays listed (state `lost`) this long before it is removed. Default 300000. */
  readonly retentionMs?: number;
  /** Counts the calls this instance found lost. */
  readonly lostCalls?: Counter;
}

/**
 * Runs on every live instance: a call whose owner died is marked lost in the registry (`lostAt`, a new TTL
 * of the retention period) and, once the retention has passed, removed — ended with reason `instance-lost`.
 * Every write is a compare-and-set against what was read, so several janitors never double-count and an
 * owner that comes back (a long stall, not a death) wins: its next heartbeat rewrite replaces the mark.
 */
export class LostCallJanitor {
  readonly #o: LostCallJanitorOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(options: LostCallJanitorOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'cluster-janitor', instance: options.instanceId });
  }

  get retentionMs(): number {
    return this.#o.retentionMs ?? 300_000;
  }

  start(): void {
    this.#timer = setInterval(() => void this.sweep(), this.#o.intervalMs ?? 5000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One pass over the registry. Never rejects; a pass already running makes this a no-op. */
  async sweep(nowMs = Date.now()): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const entries = (await this.#o.registry.all()).filter(
        (e) => !isOwn(e, this.#o.instanceId, this.#o.boot),
      );
      if (entries.length === 0) return;
      const liveness = await this.#o.liveness(entries.map((e) => e.instance));
      for (const entry of entries) {
        if (isLost(entry, liveness)) await this.#handle(entry, nowMs);
      }
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, 'lost-call sweep skipped: registry unreachable');
    } finally {
      this.#sweeping = false;
    }
  }

  async #handle(entry: RegisteredCall, nowMs: number): Promise<void> {
    const fields = { callId: entry.summary.id, tenant: entry.summary.tenant, owner: entry.instance };
    if (entry.lostAt === undefined) {
      // A safety TTL a little past the retention: if every janitor dies too, the entry still goes away.
      const ttlMs = this.retentionMs + 2 * (this.#o.intervalMs ?? 5000);
      if (await this.#o.registry.markLost(entry, new Date(nowMs).toISOString(), ttlMs)) {
        this.#o.lostCalls?.inc();
        this.#log.warn(fields, 'call lost: its instance stopped sending heartbeats');
      }
      return;
    }
    const lostMs = Date.parse(entry.lostAt);
    if (!Number.isFinite(lostMs) || nowMs - lostMs < this.retentionMs) return;
    if (await this.#o.registry.removeIfUnchanged(entry))
      this.#log.info({ ...fields, reason: 'instance-lost' }, 'lost call removed from the registry');
  }
}
