import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../observability/logger.js';

/** What one instance may ask the owner of a call to do. */
export type RelayOp =
  | { readonly op: 'get'; readonly callId: string }
  | { readonly op: 'hangup'; readonly callId: string }
  | { readonly op: 'transfer'; readonly callId: string; readonly destination: string };

const opSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('get'), callId: z.string().min(1).max(128) }),
  z.object({ op: z.literal('hangup'), callId: z.string().min(1).max(128) }),
  z.object({
    op: z.literal('transfer'),
    callId: z.string().min(1).max(128),
    destination: z.string().min(1).max(64),
  }),
]);
const requestSchema = z.object({
  cid: z.string().min(1).max(64),
  replyTo: z.string().min(1),
  request: opSchema,
});
const replySchema = z.union([
  z.object({ cid: z.string(), ok: z.literal(true), result: z.unknown() }),
  z.object({ cid: z.string(), ok: z.literal(false), message: z.string() }),
]);

export interface ClusterRelayOptions {
  readonly command: Redis;
  readonly subscriber: Redis;
  readonly keyPrefix: string;
  readonly instanceId: string;
  readonly logger: Logger;
  /** No reply within this long: 504. Default 3000. */
  readonly timeoutMs?: number;
  /** Executes a request from another instance against the local calls. */
  readonly handle: (request: RelayOp) => Promise<unknown>;
}

interface Pending {
  resolve(result: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Request/reply between instances over Redis pub/sub: every instance subscribes to its own request channel
 * and its own reply channel; a request carries a correlation id and the channel to answer on. Pub/sub is
 * fire-and-forget, so the requester's timeout is the only failure detector (owner gone, Redis gone).
 */
export class ClusterRelay {
  readonly #o: ClusterRelayOptions;
  readonly #log: Logger;
  readonly #requestChannel: string;
  readonly #replyChannel: string;
  readonly #pending = new Map<string, Pending>();
  #closed = false;

  constructor(options: ClusterRelayOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'cluster-relay' });
    this.#requestChannel = ClusterRelay.requestChannel(options.keyPrefix, options.instanceId);
    this.#replyChannel = `${options.keyPrefix}relay:reply:${options.instanceId}`;
  }

  static requestChannel(keyPrefix: string, instanceId: string): string {
    return `${keyPrefix}relay:request:${instanceId}`;
  }

  /** Subscribe; resolves once Redis confirmed (queued until connected). */
  async start(): Promise<void> {
    this.#o.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.#requestChannel) this.#onRequest(message);
      else if (channel === this.#replyChannel) this.#onReply(message);
    });
    await this.#o.subscriber.subscribe(this.#requestChannel, this.#replyChannel);
  }

  /** Ask `owner` to run `request`; rejects with an HttpError (503 Redis down, 504 no answer, 502 failed). */
  async request(owner: string, request: RelayOp): Promise<unknown> {
    if (this.#closed) throw new HttpError(503, 'HTTP_CLUSTER_UNAVAILABLE', 'instance is shutting down');
    const cid = randomUUID();
    const timeoutMs = this.#o.timeoutMs ?? 3000;
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(cid);
        reject(
          new HttpError(
            504,
            'HTTP_RELAY_TIMEOUT',
            `instance owning the call did not answer within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.#pending.set(cid, { resolve, reject, timer });
    });
    let receivers: number;
    try {
      receivers = await this.#o.command.publish(
        ClusterRelay.requestChannel(this.#o.keyPrefix, owner),
        JSON.stringify({ cid, replyTo: this.#replyChannel, request }),
      );
    } catch (err) {
      this.#settle(cid)?.reject(
        new HttpError(503, 'HTTP_CLUSTER_UNAVAILABLE', 'cluster registry unreachable', undefined, {
          cause: err,
        }),
      );
      return answer;
    }
    // Nobody subscribed: the owner is gone (its registry entries expire with their TTL).
    if (receivers === 0) {
      this.#settle(cid)?.reject(
        new HttpError(504, 'HTTP_RELAY_TIMEOUT', 'instance owning the call is not reachable'),
      );
    }
    return answer;
  }

  #settle(cid: string): Pending | undefined {
    const p = this.#pending.get(cid);
    if (p === undefined) return undefined;
    clearTimeout(p.timer);
    this.#pending.delete(cid);
    return p;
  }

  #onReply(message: string): void {
    const parsed = replySchema.safeParse(safeJson(message));
    if (!parsed.success) {
      this.#log.debug('malformed relay reply ignored');
      return;
    }
    const p = this.#settle(parsed.data.cid);
    if (p === undefined) return; // Late reply after a timeout.
    if (parsed.data.ok) p.resolve(parsed.data.result);
    else p.reject(new HttpError(502, 'HTTP_RELAY_FAILED', `owner instance failed: ${parsed.data.message}`));
  }

  #onRequest(message: string): void {
    const parsed = requestSchema.safeParse(safeJson(message));
    if (!parsed.success) {
      this.#log.debug('malformed relay request ignored');
      return;
    }
    const { cid, replyTo, request } = parsed.data;
    const reply = (body: Record<string, unknown>): void => {
      this.#o.command.publish(replyTo, JSON.stringify({ cid, ...body })).catch((err: unknown) => {
        this.#log.warn({ err: (err as Error).message, op: request.op }, 'relay reply not sent');
      });
    };
    this.#o.handle(request).then(
      (result) => reply({ ok: true, result: result ?? null }),
      (err: unknown) => {
        this.#log.warn({ err, op: request.op, callId: request.callId }, 'relayed request failed');
        reply({ ok: false, message: err instanceof Error ? err.message : 'failed' });
      },
    );
  }

  /** Reject what is still waiting and stop answering. The clients are closed by their owner. */
  close(): void {
    this.#closed = true;
    for (const cid of [...this.#pending.keys()])
      this.#settle(cid)?.reject(new HttpError(503, 'HTTP_CLUSTER_UNAVAILABLE', 'instance is shutting down'));
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
