/**
 * A hostile "OpenAI Realtime" endpoint for the provider-isolation tests (issue 11): it answers the session
 * setup like the real service (session.update → session.updated), then announces one huge binary frame and
 * streams its payload straight onto the TCP socket from a single reused 64 KiB chunk, so the mock itself
 * allocates nothing near the frame size and the test's RSS measures the server only.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

const CHUNK = Buffer.alloc(64 * 1024);

export interface HostileStats {
  /** WebSocket sessions the server opened to us. */
  connections: number;
  /** Oversized frames announced. */
  framesAnnounced: number;
  /** Payload bytes we managed to write before the client closed the connection. */
  bytesWritten: number;
  /** Connections the client closed before the frame was complete. */
  cutOff: number;
}

export class HostileProvider {
  readonly stats: HostileStats = { connections: 0, framesAnnounced: 0, bytesWritten: 0, cutOff: 0 };
  readonly #server: Server;
  readonly #wss = new WebSocketServer({ noServer: true });
  #port = 0;

  /**
   * `frameBytes`: the payload length announced in the frame header (RFC 6455 §5.2, 64-bit length);
   * `delayMs`: how long after session.updated (0: during setup, >0: mid-call once the session is live).
   */
  constructor(
    private readonly frameBytes: number,
    private readonly delayMs = 300,
  ) {
    this.#server = createServer((_req, res) => res.writeHead(426).end());
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, req.socket));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('hostile provider has no port');
    this.#port = address.port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.#port}/v1/realtime`;
  }

  #onConnection(ws: WebSocket, socket: Socket): void {
    this.stats.connections++;
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      let type: unknown;
      try {
        type = (JSON.parse(data.toString('utf8')) as { type?: unknown }).type;
      } catch {
        return;
      }
      if (type !== 'session.update') return;
      ws.send(
        JSON.stringify({ type: 'session.updated', session: { type: 'realtime', id: 'sess_hostile' } }),
        () => void setTimeout(() => void this.#flood(socket), this.delayMs),
      );
    });
  }

  /** Header of one unfragmented binary frame (FIN, opcode 2, unmasked), then the payload with backpressure. */
  async #flood(socket: Socket): Promise<void> {
    const header = Buffer.alloc(10);
    header[0] = 0x82;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(this.frameBytes), 2);
    this.stats.framesAnnounced++;
    let closed = false;
    socket.once('close', () => (closed = true));
    socket.on('error', () => (closed = true));
    socket.write(header);
    const chunks = Math.ceil(this.frameBytes / CHUNK.length);
    for (let i = 0; i < chunks && !closed; i++) {
      const part = i === chunks - 1 ? CHUNK.subarray(0, this.frameBytes - i * CHUNK.length) : CHUNK;
      const more = socket.write(part);
      this.stats.bytesWritten += part.length;
      if (!more && !closed) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            socket.off('drain', done);
            socket.off('close', done);
            resolve();
          };
          socket.once('drain', done);
          socket.once('close', done);
        });
      }
    }
    if (closed) this.stats.cutOff++;
  }

  async close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
