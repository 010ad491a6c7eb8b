/**
 * Shared plumbing for protocol-faithful provider mocks: an HTTP server on 127.0.0.1 port 0 that upgrades
 * to WebSocket after a provider-specific handshake check, a log of every client message, protocol
 * violations, waitForMessage(), dropping and refusing connections.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ReceivedMessage } from './mock-provider.js';

/** What the handshake check decides: accept, or refuse with an HTTP status like the real service. */
export type UpgradeDecision =
  { readonly accept: true } | { readonly accept: false; readonly status: number; readonly body?: string };

interface Waiter {
  readonly type: string;
  readonly predicate: (m: unknown) => boolean;
  readonly resolve: (m: unknown) => void;
}

export class WsMockBase {
  readonly received: ReceivedMessage[] = [];
  readonly violations: string[] = [];
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #t0 = performance.now();
  readonly #sockets = new Set<WebSocket>();
  #waiters: Waiter[] = [];
  #refusing = false;
  #port = 0;

  constructor(
    /** Decide whether to accept an upgrade (check path, query, auth headers). */
    private readonly checkUpgrade: (req: IncomingMessage, url: URL) => UpgradeDecision,
    /** A client connected and passed the check. */
    private readonly onConnection: (ws: WebSocket, req: IncomingMessage, url: URL) => void,
  ) {
    this.#wss = new WebSocketServer({ noServer: true });
    this.#server = createServer((_req, res) => {
      res.writeHead(426).end();
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('mock server has no port');
    this.#port = address.port;
  }

  get port(): number {
    return this.#port;
  }

  nowMs(): number {
    return performance.now() - this.#t0;
  }

  /** Log a client message and wake matching waiters. */
  record(type: string, message: unknown): void {
    this.received.push({ type, message, atMs: this.nowMs() });
    this.#waiters = this.#waiters.filter((w) => {
      if (w.type !== type || !w.predicate(message)) return true;
      w.resolve(message);
      return false;
    });
  }

  violation(text: string): void {
    this.violations.push(text);
  }

  waitForMessage(
    type: string,
    predicate: (m: unknown) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<unknown> {
    const found = this.received.find((r) => r.type === type && predicate(r.message));
    if (found !== undefined) return Promise.resolve(found.message);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`mock: no ${type} message within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        type,
        predicate,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  dropConnection(): void {
    for (const ws of this.#sockets) ws.terminate();
  }

  refuseConnections(on: boolean): void {
    this.#refusing = on;
  }

  async close(): Promise<void> {
    for (const ws of this.#sockets) ws.terminate();
    this.#wss.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${this.#port}`);
    const decision: UpgradeDecision = this.#refusing
      ? { accept: false, status: 503, body: 'refused' }
      : this.checkUpgrade(req, url);
    if (!decision.accept) {
      const body = decision.body ?? '';
      socket.end(
        `HTTP/1.1 ${decision.status} Refused\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#sockets.add(ws);
      ws.on('close', () => this.#sockets.delete(ws));
      ws.on('error', () => this.#sockets.delete(ws));
      this.onConnection(ws, req, url);
    });
  }
}
