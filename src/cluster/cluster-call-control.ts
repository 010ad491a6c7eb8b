import { callLost } from '../http/errors.js';
import { CALL_STATE_LOST, type CallControl, type CallSummary, type DialRequest } from '../http/ports.js';
import type { Logger } from '../observability/logger.js';
import { parseSummary, type RedisCallRegistry, type RegisteredCall } from './call-registry.js';
import { isLost, isOwn, type LivenessReader } from './lost-calls.js';
import type { ClusterRelay, RelayOp } from './relay.js';

export interface ClusterCallControlOptions {
  /** This instance's calls (the CallManager). */
  readonly local: CallControl;
  readonly registry: RedisCallRegistry;
  /** Unique per process; the owner recorded with each call. */
  readonly instanceId: string;
  /** This process's heartbeat boot id, recorded with each call so a restart under the same id is told apart. */
  readonly boot: string;
  /** Liveness of call owners: a call whose owner is dead is listed `lost` and answers 410, with no relay. */
  readonly liveness: LivenessReader;
  readonly logger: Logger;
  /** How often local calls are published (new ones, ended ones, state changes). Default 1000. */
  readonly syncIntervalMs?: number;
  /** Every call's key is rewritten (TTL refreshed) at least this often. Default 5000. */
  readonly heartbeatMs?: number;
  /** Key TTL: a crashed instance's calls vanish after this (longer than the instance TTL, so they are listed
   * `lost` meanwhile). Default 15000. */
  readonly ttlMs?: number;
}

const transferResult = (value: unknown): { ok: boolean; status?: number; message: string } => {
  const v = value as { ok?: unknown; status?: unknown; message?: unknown } | null;
  return {
    ok: v?.ok === true,
    message: typeof v?.message === 'string' ? v.message : 'no message',
    ...(typeof v?.status === 'number' ? { status: v.status } : {}),
  };
};

/**
 * CallControl for several instances sharing Redis, as a decorator around the local CallManager: local calls
 * are published to the registry with a heartbeat, `list` merges every instance's calls, and get/hangup/
 * transfer of a call owned elsewhere are relayed to its owner. With Redis away, local calls keep working
 * and answer as before; remote ones are simply not visible until it returns.
 */
export class ClusterCallControl implements CallControl {
  readonly #o: ClusterCallControlOptions;
  readonly #log: Logger;
  #relay: ClusterRelay | undefined;
  /** Call id → the JSON last written, so unchanged calls are only rewritten on the heartbeat. */
  readonly #published = new Map<string, string>();
  #lastFullWriteMs = 0;
  #registryDown = false;
  #timer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(options: ClusterCallControlOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'cluster', instance: options.instanceId });
  }

  /** Connect the relay used for calls of other instances. */
  attach(relay: ClusterRelay): void {
    this.#relay = relay;
  }

  /** Start publishing local calls. */
  start(): void {
    this.#timer = setInterval(() => this.sync(), this.#o.syncIntervalMs ?? 1000);
    this.#timer.unref();
    this.sync();
  }

  /** Publish local call changes now (coalesced with a sync already running). Never rejects. */
  sync(): void {
    if (this.#closed) return;
    if (this.#syncing !== undefined) {
      this.#again = true;
      return;
    }
    this.#syncing = this.#syncOnce()
      .catch((err: unknown) => {
        if (!this.#registryDown) this.#log.warn({ err: (err as Error).message }, 'call registry unreachable');
        this.#registryDown = true;
      })
      .finally(() => {
        this.#syncing = undefined;
        if (this.#again && this.#timer !== undefined) {
          this.#again = false;
          this.sync();
        }
      });
  }

  async #syncOnce(): Promise<void> {
    const calls = await this.#o.local.list();
    const nowMs = Date.now();
    const full = this.#registryDown || nowMs - this.#lastFullWriteMs >= (this.#o.heartbeatMs ?? 5000);
    const live = new Map(calls.map((c) => [c.id, JSON.stringify(c)]));
    const changed = calls.filter((c) => full || this.#published.get(c.id) !== live.get(c.id));
    const ended = [...this.#published.keys()].filter((id) => !live.has(id));
    await this.#o.registry.sync(this.#owner, changed, ended, this.#o.ttlMs ?? 15_000);
    for (const id of ended) this.#published.delete(id);
    for (const c of changed) this.#published.set(c.id, live.get(c.id) ?? '');
    if (full) this.#lastFullWriteMs = nowMs;
    if (this.#registryDown) this.#log.info({ calls: calls.length }, 'call registry reachable again');
    this.#registryDown = false;
  }

  /** Executes a request relayed from another instance. */
  async handle(request: RelayOp): Promise<unknown> {
    switch (request.op) {
      case 'get':
        return (await this.#o.local.get(request.callId)) ?? null;
      case 'hangup': {
        const done = await this.#o.local.hangup(request.callId);
        this.sync();
        return done;
      }
      case 'transfer': {
        const result = await this.#o.local.transfer(request.callId, request.destination);
        this.sync();
        return result;
      }
    }
  }

  get #owner(): { instance: string; boot: string } {
    return { instance: this.#o.instanceId, boot: this.#o.boot };
  }

  /** A registered call as listed here: its owner named, and state `lost` when that owner is dead. */
  static #summary(entry: RegisteredCall, lost: boolean): CallSummary {
    return { ...entry.summary, instance: entry.instance, ...(lost ? { state: CALL_STATE_LOST } : {}) };
  }

  async list(): Promise<CallSummary[]> {
    const local = await this.#o.local.list();
    let remote: CallSummary[] = [];
    try {
      const seen = new Set(local.map((c) => c.id));
      const entries = (await this.#o.registry.all()).filter(
        (e) => !isOwn(e, this.#o.instanceId, this.#o.boot) && !seen.has(e.summary.id),
      );
      const liveness = await this.#o.liveness(entries.map((e) => e.instance));
      remote = entries.map((e) => ClusterCallControl.#summary(e, isLost(e, liveness)));
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'call registry unreachable; listing local calls only');
    }
    return [...local, ...remote].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  /** The registry entry of a call that is not local and whether its owner is dead; undefined if none. */
  async #remote(id: string): Promise<{ entry: RegisteredCall; lost: boolean } | undefined> {
    try {
      const entry = await this.#o.registry.lookup(id);
      // An entry of our own that the local table no longer has is a call that just ended.
      if (entry === undefined || isOwn(entry, this.#o.instanceId, this.#o.boot)) return undefined;
      return { entry, lost: isLost(entry, await this.#o.liveness([entry.instance])) };
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'call registry unreachable; only local calls visible');
      return undefined;
    }
  }

  /** The live owner of a remote call; a dead owner is a 410 at once (waiting for a relay reply is pointless). */
  async #liveOwner(id: string): Promise<string | undefined> {
    const remote = await this.#remote(id);
    if (remote === undefined) return undefined;
    if (remote.lost) throw callLost(id, remote.entry.instance);
    return remote.entry.instance;
  }

  async #relayTo(owner: string, request: RelayOp): Promise<unknown> {
    if (this.#relay === undefined) throw new Error('cluster relay not attached');
    return this.#relay.request(owner, request);
  }

  async get(id: string): Promise<CallSummary | undefined> {
    const local = await this.#o.local.get(id);
    if (local !== undefined) return local;
    const remote = await this.#remote(id);
    if (remote === undefined) return undefined;
    // The HTTP layer answers 410 for a lost call once it checked the tenant may see it.
    if (remote.lost) return ClusterCallControl.#summary(remote.entry, true);
    const owner = remote.entry.instance;
    const summary = parseSummary(await this.#relayTo(owner, { op: 'get', callId: id }));
    return summary === undefined ? undefined : { ...summary, instance: owner };
  }

  async hangup(id: string): Promise<boolean> {
    if ((await this.#o.local.get(id)) !== undefined) {
      const done = await this.#o.local.hangup(id);
      this.sync();
      return done;
    }
    const owner = await this.#liveOwner(id);
    if (owner === undefined) return false;
    return (await this.#relayTo(owner, { op: 'hangup', callId: id })) === true;
  }

  async transfer(
    id: string,
    destination: string,
  ): Promise<{ readonly ok: boolean; readonly status?: number; readonly message: string }> {
    if ((await this.#o.local.get(id)) !== undefined) {
      const result = await this.#o.local.transfer(id, destination);
      this.sync();
      return result;
    }
    const owner = await this.#liveOwner(id);
    if (owner === undefined) return { ok: false, message: 'no such call' };
    return transferResult(await this.#relayTo(owner, { op: 'transfer', callId: id, destination }));
  }

  async dial(request: DialRequest): Promise<{ readonly id: string }> {
    const result = await this.#o.local.dial(request);
    this.sync();
    return result;
  }

  /** Stop publishing and remove this instance's calls from the registry (best effort). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#syncing;
    const ids = [...this.#published.keys()];
    this.#published.clear();
    await this.#o.registry.sync(this.#owner, [], ids, 1).catch(() => undefined);
  }

  /** Stop publishing and leave the registry as it is (test hook for a crash: see `Cluster.crash`). */
  abandon(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
