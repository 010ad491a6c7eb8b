import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import { createLogger, type Logger } from '../../../src/observability/logger.js';

export interface TestServer {
  readonly wss: WebSocketServer;
  readonly url: string;
  /** Every message the server received, as text, in arrival order, across connections. */
  readonly received: string[];
  readonly connections: WebSocket[];
  /** Upgrade requests seen (accepted or not). */
  upgrades: number;
  close(): Promise<void>;
}

export async function startServer(
  options: Omit<ServerOptions, 'port' | 'host'> = {},
  onConnection?: (ws: WebSocket) => void,
): Promise<TestServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  await once(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  const server: TestServer = {
    wss,
    url: `ws://127.0.0.1:${port}/v1/realtime?key=SECRET-IN-QUERY`,
    received: [],
    connections: [],
    upgrades: 0,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
  wss.on('headers', () => undefined);
  wss.on('connection', (ws) => {
    server.connections.push(ws);
    ws.on('message', (data) => server.received.push((data as Buffer).toString()));
    onConnection?.(ws);
  });
  return server;
}

/** A port nothing listens on (bound, then released). */
export async function deadUrl(): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const port = (wss.address() as AddressInfo).port;
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  return `ws://127.0.0.1:${port}/`;
}

export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

export async function waitFor(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('waitFor timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Counts unhandled rejections for the lifetime of a test file. */
export function trackUnhandledRejections(): { readonly count: () => number; stop(): void } {
  const seen: unknown[] = [];
  const handler = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', handler);
  return { count: () => seen.length, stop: () => process.off('unhandledRejection', handler) };
}
