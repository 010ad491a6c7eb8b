import { z } from 'zod';
import type { RevocationBus } from '../http/auth.js';
import type { Logger } from '../observability/logger.js';
import { closeClient, createClusterClients } from './redis-clients.js';

const messageSchema = z.object({ tenant: z.string().min(1).max(64), id: z.string().min(1).max(64) }).strict();

/**
 * Tenant key revocation across instances (issue 11): the instance that deletes a key publishes it, every
 * instance drops it from its key cache at once. Pub/sub is fire-and-forget: an instance that misses the
 * message (Redis away) stops trusting its cached entry when that expires (KeyCache positive TTL).
 */
export class RevocationChannel implements RevocationBus {
  readonly #channel: string;
  readonly #log: Logger;
  readonly #clients: ReturnType<typeof createClusterClients>;
  #onRevoke: ((tenant: string, id: string) => void) | undefined;

  constructor(options: { url: string; keyPrefix: string; logger: Logger }) {
    this.#channel = `${options.keyPrefix}apikey:revoked`;
    this.#log = options.logger.child({ component: 'key-revocation' });
    this.#clients = createClusterClients(options.url, options.logger);
    this.#clients.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.#channel) this.#onMessage(message);
    });
  }

  /** Subscribe (queued until Redis answers; never blocks startup) and deliver revocations to `onRevoke`. */
  start(onRevoke: (tenant: string, id: string) => void): void {
    this.#onRevoke = onRevoke;
    this.#clients.subscriber.subscribe(this.#channel).catch((err: unknown) => {
      this.#log.warn({ err: (err as Error).message }, 'revocation subscribe failed');
    });
  }

  /** Best effort: the key is already deleted from the store; a lost message only delays other instances. */
  async publish(tenant: string, id: string): Promise<void> {
    try {
      await this.#clients.command.publish(this.#channel, JSON.stringify({ tenant, id }));
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'revocation not published; other instances expire it');
    }
  }

  #onMessage(message: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      parsed = undefined;
    }
    const r = messageSchema.safeParse(parsed);
    if (!r.success) {
      this.#log.debug('malformed revocation message ignored');
      return;
    }
    this.#onRevoke?.(r.data.tenant, r.data.id);
  }

  async close(): Promise<void> {
    await Promise.all([closeClient(this.#clients.command), closeClient(this.#clients.subscriber)]);
  }
}
