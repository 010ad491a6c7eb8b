import type { Registry } from 'prom-client';
import type { CallControl } from '../http/ports.js';
import type { Logger } from '../observability/logger.js';
import { counter } from '../observability/metrics.js';
import { RedisCallRegistry } from './call-registry.js';
import { ClusterCallControl } from './cluster-call-control.js';
import { InstanceHeartbeat, type InstanceStatus } from './instance-heartbeat.js';
import { livenessReader, LostCallJanitor } from './lost-calls.js';
import { ClusterRelay } from './relay.js';
import { closeClient, createClusterClients } from './redis-clients.js';

export { ClusterCallControl } from './cluster-call-control.js';
export { ClusterRelay, type RelayOp } from './relay.js';
export { RedisCallRegistry, type RegisteredCall } from './call-registry.js';
export {
  InstanceHeartbeat,
  instanceKey,
  readInstances,
  type InstanceRecord,
  type InstanceStatus,
} from './instance-heartbeat.js';

export interface ClusterOptions {
  readonly url: string;
  /** Shared by every instance of one deployment. Default `switchboard:`. */
  readonly keyPrefix?: string;
  /** Unique per process. */
  readonly instanceId: string;
  readonly local: CallControl;
  readonly logger: Logger;
  /** Registers `switchboard_cluster_lost_calls_total` when given. */
  readonly metrics?: Registry;
  readonly relayTimeoutMs?: number;
  readonly syncIntervalMs?: number;
  /** Instance heartbeat period; every call key is rewritten this often too. Default 5000. */
  readonly heartbeatMs?: number;
  /** The instance counts as dead (its calls `lost`) this long after its last heartbeat. Default 3 × heartbeat. */
  readonly instanceTtlMs?: number;
  /** A lost call stays listed this long before a live instance's janitor removes it. Default 300000. */
  readonly lostRetentionMs?: number;
}

export interface Cluster {
  readonly calls: ClusterCallControl;
  /** This process's liveness record; H4's drain sets `draining` here (`setStatus`). */
  readonly heartbeat: InstanceHeartbeat;
  /** Announce `serving` or `draining` to the other instances now (false when Redis did not take it). */
  setStatus(status: InstanceStatus): Promise<boolean>;
  /** Leave the cluster cleanly: remove this instance's calls and heartbeat from Redis. */
  close(): Promise<void>;
  /**
   * Test hook for instance death: stop every timer and drop both Redis connections without removing
   * anything, so the others see what a killed process leaves behind (the heartbeat expires, calls go lost).
   */
  crash(): void;
}

/**
 * Several instances behind one Redis: the live-call registry plus the relay to call owners. Does not wait
 * for Redis: while it is away the instance serves its own calls, and both connections keep reconnecting.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const keyPrefix = options.keyPrefix ?? 'switchboard:';
  const { command, subscriber } = createClusterClients(options.url, options.logger);
  const heartbeatMs = options.heartbeatMs ?? 5000;
  const heartbeat = new InstanceHeartbeat({
    redis: command,
    keyPrefix,
    instanceId: options.instanceId,
    logger: options.logger,
    intervalMs: heartbeatMs,
    ...(options.instanceTtlMs === undefined ? {} : { ttlMs: options.instanceTtlMs }),
  });
  const registry = new RedisCallRegistry({ redis: command, keyPrefix });
  const liveness = livenessReader(command, keyPrefix);
  const janitor = new LostCallJanitor({
    registry,
    liveness,
    instanceId: options.instanceId,
    boot: heartbeat.boot,
    logger: options.logger,
    intervalMs: heartbeatMs,
    ...(options.lostRetentionMs === undefined ? {} : { retentionMs: options.lostRetentionMs }),
    ...(options.metrics === undefined
      ? {}
      : {
          lostCalls: counter(
            options.metrics,
            'switchboard_cluster_lost_calls_total',
            "Calls this instance found lost: their owner instance's heartbeat expired",
          ),
        }),
  });
  const calls = new ClusterCallControl({
    local: options.local,
    registry,
    instanceId: options.instanceId,
    boot: heartbeat.boot,
    liveness,
    logger: options.logger,
    heartbeatMs,
    // A dead owner's call keys outlive its heartbeat by the retention, so they are listed `lost` meanwhile.
    ttlMs: heartbeat.ttlMs + janitor.retentionMs + 2 * heartbeatMs,
    ...(options.syncIntervalMs === undefined ? {} : { syncIntervalMs: options.syncIntervalMs }),
  });
  const relay = new ClusterRelay({
    command,
    subscriber,
    keyPrefix,
    instanceId: options.instanceId,
    logger: options.logger,
    handle: (request) => calls.handle(request),
    ...(options.relayTimeoutMs === undefined ? {} : { timeoutMs: options.relayTimeoutMs }),
  });
  calls.attach(relay);
  const log = options.logger.child({ component: 'cluster' });
  // Wait a moment for the subscription so relays reach us from the start; never block startup on Redis.
  const subscribed = relay.start().then(
    () => true,
    (err: unknown) => {
      log.warn({ err: (err as Error).message }, 'relay subscribe failed');
      return false;
    },
  );
  // The command connection too: its first heartbeat would fail at once if it were still connecting.
  const commandReady =
    command.status === 'ready'
      ? Promise.resolve(true)
      : new Promise<boolean>((resolve) => command.once('ready', () => resolve(true)));
  let timer: NodeJS.Timeout | undefined;
  const ok = await Promise.race([
    Promise.all([subscribed, commandReady]).then(([s]) => s),
    new Promise<false>((resolve) => (timer = setTimeout(resolve, 2000, false))),
  ]);
  clearTimeout(timer);
  if (!ok) log.warn('redis not reachable yet; serving local calls, relay subscribes when it returns');
  // The heartbeat goes first: calls published with our boot id must never look ownerless.
  // (Without Redis the first beat fails at once: the command connection has no offline queue.)
  await heartbeat.start();
  calls.start();
  janitor.start();
  return {
    calls,
    heartbeat,
    setStatus: (status) => heartbeat.setStatus(status),
    async close() {
      janitor.stop();
      relay.close();
      await calls.close();
      await heartbeat.close();
      await Promise.all([closeClient(command), closeClient(subscriber)]);
    },
    crash() {
      log.warn('cluster membership abandoned without cleanup (simulated crash)');
      janitor.stop();
      heartbeat.stop();
      calls.abandon();
      relay.close();
      command.disconnect();
      subscriber.disconnect();
    },
  };
}
