import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';

/** Reconnect backoff: 100 ms doubling to 3 s, forever (ioredis reconnects by itself). */
const retryStrategy = (times: number): number => Math.min(100 * 2 ** Math.min(times, 5), 3000);

/**
 * The command connection fails fast while Redis is away (no offline queue), so a heartbeat or a relay never
 * waits on a dead server; the subscriber queues its SUBSCRIBE until connected and resubscribes on reconnect.
 */
export function createClusterClients(url: string, logger: Logger): { command: Redis; subscriber: Redis } {
  const command = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy,
  });
  const subscriber = new Redis(url, {
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    connectTimeout: 2000,
    autoResubscribe: true,
    retryStrategy,
  });
  watch(command, logger.child({ component: 'cluster', connection: 'command' }));
  watch(subscriber, logger.child({ component: 'cluster', connection: 'subscriber' }));
  return { command, subscriber };
}

/** Log the first error of an outage and the reconnection, not every retry. */
function watch(client: Redis, log: Logger): void {
  let down = false;
  client.on('error', (err: Error) => {
    if (!down) log.warn({ err: err.message }, 'redis unavailable; retrying');
    down = true;
  });
  client.on('ready', () => {
    if (down) log.info('redis reconnected');
    down = false;
  });
}

/** QUIT politely, or drop the socket when Redis is not there to answer. */
export async function closeClient(client: Redis): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
