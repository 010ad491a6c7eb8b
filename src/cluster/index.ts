import type { CallControl } from '../http/ports.js';
import type { Logger } from '../observability/logger.js';
import { RedisCallRegistry } from './call-registry.js';
import { ClusterCallControl } from './cluster-call-control.js';
import { ClusterRelay } from './relay.js';
import { closeClient, createClusterClients } from './redis-clients.js';

export { ClusterCallControl } from './cluster-call-control.js';
export { ClusterRelay, type RelayOp } from './relay.js';
export { RedisCallRegistry, type RegisteredCall } from './call-registry.js';

export interface ClusterOptions {
  readonly url: string;
  /** Shared by every instance of one deployment. Default `switchboard:`. */
  readonly keyPrefix?: string;
  /** Unique per process. */
  readonly instanceId: string;
  readonly local: CallControl;
  readonly logger: Logger;
  readonly relayTimeoutMs?: number;
  readonly syncIntervalMs?: number;
  readonly heartbeatMs?: number;
  readonly ttlMs?: number;
}

export interface Cluster {
  readonly calls: ClusterCallControl;
  close(): Promise<void>;
}

/**
 * Several instances behind one Redis: the live-call registry plus the relay to call owners. Does not wait
 * for Redis: while it is away the instance serves its own calls, and both connections keep reconnecting.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const keyPrefix = options.keyPrefix ?? 'switchboard:';
  const { command, subscriber } = createClusterClients(options.url, options.logger);
  const calls = new ClusterCallControl({
    local: options.local,
    registry: new RedisCallRegistry({ redis: command, keyPrefix }),
    instanceId: options.instanceId,
    logger: options.logger,
    ...(options.syncIntervalMs === undefined ? {} : { syncIntervalMs: options.syncIntervalMs }),
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
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
  let timer: NodeJS.Timeout | undefined;
  const ok = await Promise.race([
    subscribed,
    new Promise<false>((resolve) => (timer = setTimeout(resolve, 2000, false))),
  ]);
  clearTimeout(timer);
  if (!ok) log.warn('redis not reachable yet; serving local calls, relay subscribes when it returns');
  calls.start();
  return {
    calls,
    async close() {
      relay.close();
      await calls.close();
      await Promise.all([closeClient(command), closeClient(subscriber)]);
    },
  };
}
