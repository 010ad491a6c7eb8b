/**
 * A TCP proxy on 127.0.0.1 port 0 in front of a provider mock: it holds every new connection for
 * `delayMs` before connecting it upstream (a slow provider connect, as seen from a far region), and counts
 * connections opened and closed by the client, so a test can assert that the server closed its agent.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class DelayProxy {
  /** Client connections accepted so far. */
  opened = 0;
  /** Client connections that have closed (either side). */
  closed = 0;
  /** Client connections that got through to the upstream (after the delay). */
  connected = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #port = 0;

  private constructor(
    readonly upstreamPort: number,
    public delayMs: number,
  ) {
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(upstreamPort: number, delayMs: number): Promise<DelayProxy> {
    const proxy = new DelayProxy(upstreamPort, delayMs);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    const address = proxy.#server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy.#port = address.port;
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  /** Connections still open. */
  get open(): number {
    return this.opened - this.closed;
  }

  #accept(client: Socket): void {
    this.opened++;
    this.#sockets.add(client);
    client.pause();
    let upstream: Socket | undefined;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.closed++;
      this.#sockets.delete(client);
      client.destroy();
      upstream?.destroy();
    };
    client.on('close', finish);
    client.on('error', finish);
    const timer = setTimeout(() => {
      if (done) return;
      upstream = connect({ host: '127.0.0.1', port: this.upstreamPort });
      upstream.on('error', finish);
      upstream.on('close', finish);
      upstream.on('connect', () => {
        this.connected++;
        client.pipe(upstream!);
        upstream!.pipe(client);
        client.resume();
      });
    }, this.delayMs);
    client.once('close', () => clearTimeout(timer));
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
