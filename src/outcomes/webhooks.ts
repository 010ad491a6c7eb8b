/**
 * Event webhooks' public constructors (issue 16): the outbox for the configured store, the delivery service
 * and the call-event sink. Wired in main.ts.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import type { Outbox } from './outbox.js';
import { FileOutbox } from './file-outbox.js';
import { RedisOutbox } from './redis-outbox.js';

/** The outbox beside the tenant store: Redis when REDIS_URL is set, else files under DATA_DIR. */
export function createOutbox(options: {
  readonly redisUrl: string | undefined;
  readonly dataDir: string;
  readonly keyPrefix: string;
  readonly instanceId: string;
  readonly logger: Logger;
}): Outbox {
  if (options.redisUrl === undefined) return new FileOutbox(options.dataDir);
  const client = new Redis(options.redisUrl, {
    // Queued while Redis is away (deliveries are not on a call's path), retried with capped backoff.
    maxRetriesPerRequest: 3,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 3000),
  });
  const log = options.logger.child({ component: 'outbox' });
  client.on('error', (err: Error) => log.debug({ err: err.message }, 'outbox redis error'));
  return new RedisOutbox({ client, keyPrefix: options.keyPrefix, instanceId: options.instanceId });
}

export { WebhookService } from './webhook-service.js';
export { callRecordWebhook, callWebhookSink } from './call-webhooks.js';
