/**
 * A real HTTP receiver for event webhooks (node:http on loopback): records every request with its raw body,
 * headers and arrival time, and answers what the test says per request (a status, or 'hang': never answer).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  readonly headers: IncomingHttpHeaders;
  readonly raw: string;
  readonly body: { id: string; type: string; created_at: string; tenant: string; data: any };
  readonly receivedAtMs: number;
}

export type Answer = number | 'hang';

export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  readonly #server: Server;
  readonly #hanging = new Set<ServerResponse>();
  #answer: (request: ReceivedWebhook, index: number) => Answer;
  #waiters: Array<() => void> = [];

  private constructor(server: Server, answer: (request: ReceivedWebhook, index: number) => Answer) {
    this.#server = server;
    this.#answer = answer;
  }

  /** Listen on `host` (default 127.0.1.40, this suite's loopback block) and `port` (0: any). */
  static async start(
    options: { host?: string; port?: number; answer?: (r: ReceivedWebhook, i: number) => Answer } = {},
  ): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server, options.answer ?? (() => 200));
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const entry: ReceivedWebhook = {
          headers: req.headers,
          raw,
          body: JSON.parse(raw) as ReceivedWebhook['body'],
          receivedAtMs: Date.now(),
        };
        const index = receiver.received.length;
        receiver.received.push(entry);
        const answer = receiver.#answer(entry, index);
        if (answer === 'hang') receiver.#hanging.add(res);
        else res.writeHead(answer, { 'content-type': 'text/plain' }).end('ok');
        for (const w of receiver.#waiters.splice(0)) w();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.1.40', () => resolve());
    });
    return receiver;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get url(): string {
    const a = this.#server.address() as AddressInfo;
    return `http://${a.address}:${a.port}/hook`;
  }

  /** Requests of one event type. */
  of(type: string): ReceivedWebhook[] {
    return this.received.filter((r) => r.body.type === type);
  }

  /** Resolves once `predicate` holds over what was received (checked on every request), or rejects. */
  async until(
    predicate: (received: readonly ReceivedWebhook[]) => boolean,
    timeoutMs = 15_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.received)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`webhook receiver: condition not met in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.#hanging.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * The README's verification, done independently of the server's code: parse `t=…,v1=…`, recompute
 * HMAC-SHA256(secret, "<t>.<raw body>") and compare in constant time.
 */
export function verifySignature(secret: string, header: string | undefined, raw: string): boolean {
  const parts = Object.fromEntries((header ?? '').split(',').map((kv) => kv.split('=') as [string, string]));
  const t = parts.t;
  const v1 = parts.v1;
  if (t === undefined || v1 === undefined || !/^\d+$/.test(t)) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${raw}`).digest();
  const given = Buffer.from(v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The call a delivery is about: `data.call_id`, or for an answered call's `call.ended` (the call record)
 * `data.cdr.id`.
 */
export function callIdOf(r: ReceivedWebhook): string | undefined {
  const data = r.body.data as { call_id?: unknown; cdr?: { id?: unknown } } | undefined;
  const id = data?.call_id ?? data?.cdr?.id;
  return typeof id === 'string' ? id : undefined;
}
