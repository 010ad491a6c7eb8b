/**
 * SIP transport layer (RFC 3261 §18): one UDP socket and one TCP server on the same port, a TLS listener on
 * its own port (tls-transport.ts), plus outbound TCP and TLS connections. Stream connections are reused both
 * ways: responses and in-dialog requests go back on the connection a request arrived on, which is what sipp and
 * most phones behind NAT expect, and a request whose Via carries `alias` (RFC 5923) offers its connection for
 * new requests to its sent-by address.
 *
 * Inbound TCP and TLS are bounded alike (issue 11, conn-limits.ts): per-source and global connection caps, a
 * header-read deadline, and an idle timeout for connections that carry no dialog; TLS adds a handshake
 * deadline. An optional gate drops requests silently before any transaction exists (inbound-gate.ts).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from '../../observability/logger.js';
import type { SipTransport } from '../signaling.js';
import { ConnectionLimiter, resolveTcpLimits, type ReapReason, type TcpLimits } from './conn-limits.js';
import { normaliseAddress, annotateVia, viaAlias, type Flow } from './flow.js';
import { StreamFramer } from './framing.js';
import { inboundView, type InboundGate } from './inbound-gate.js';
import type { SipMessage } from './message.js';
import { MAX_MESSAGE_BYTES, parseMessage } from './parser.js';
import { serializeMessage } from './serializer.js';
import { socketHost } from './syntax.js';
import type { TlsCredentials } from './tls-transport.js';
import {
  dialStream,
  emptyTransportStats,
  listenOn,
  listenTls,
  remoteKey,
  type StreamConnection as Connection,
  type TransportStats,
} from './stream-connection.js';

export { annotateVia, responseTarget, type Flow } from './flow.js';
export type { TransportStats } from './stream-connection.js';

export interface TransportOptions {
  readonly host: string;
  readonly port: number;
  readonly transports: readonly SipTransport[];
  readonly logger: Logger;
  readonly maxMessageBytes?: number;
  /** Certificates and settings of the TLS listener; required when `transports` includes `tls`. */
  readonly tls?: TlsCredentials;
  readonly onMessage: (message: SipMessage, flow: Flow) => void;
  /** A message that failed to parse; `message` is set when enough was readable to answer 400. */
  readonly onUnparseable: (error: string, message: SipMessage | undefined, flow: Flow) => void;
}

const KEEP_ALIVE = Buffer.from('\r\n\r\n', 'latin1');

export class TransportLayer {
  private udp: dgram.Socket | undefined;
  private server: net.Server | undefined;
  private tlsServer: tls.Server | undefined;
  private tlsBoundPort = 0;
  private readonly connections = new Map<number, Connection>();
  private readonly byRemote = new Map<string, number>();
  private nextConnectionId = 1;
  private boundPort = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private limiter = new ConnectionLimiter(resolveTcpLimits());
  private gate: InboundGate | undefined;
  /** Connection ids that carry a dialog; they are never closed for idleness. */
  private dialogConnections: () => Iterable<number> = () => [];
  readonly stats: TransportStats = emptyTransportStats();
  private readonly maxBytes: number;

  constructor(private readonly options: TransportOptions) {
    this.maxBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  }

  get port(): number {
    return this.boundPort;
  }

  /** The TLS listening port (0 when TLS is not enabled). */
  get tlsPort(): number {
    return this.tlsBoundPort;
  }

  /** The port we listen on for a transport: what Via and Contact advertise. */
  portFor(transport: SipTransport): number {
    return transport === 'tls' ? this.tlsBoundPort : this.boundPort;
  }

  /** Inbound TCP connections currently held (counted against the limits). */
  get inboundConnections(): number {
    return this.limiter.connections;
  }

  /**
   * Front-door settings; call before start(). `dialogConnections` names the connections that carry a dialog
   * (exempt from the idle timeout); `gate` drops requests silently before any transaction exists.
   */
  configure(options: {
    readonly limits?: Partial<TcpLimits>;
    readonly gate?: InboundGate;
    readonly dialogConnections?: () => Iterable<number>;
  }): void {
    if (options.limits !== undefined) this.limiter = new ConnectionLimiter(resolveTcpLimits(options.limits));
    if (options.gate !== undefined) this.gate = options.gate;
    if (options.dialogConnections !== undefined) this.dialogConnections = options.dialogConnections;
  }

  async start(): Promise<void> {
    // With port 0 and both transports, bind UDP first and put TCP on the same port; retry on a clash.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.bind(this.options.port);
        break;
      } catch (err) {
        this.closeListeners();
        if (this.options.port !== 0 || attempt >= 4) throw err;
      }
    }
    this.idleTimer = setInterval(() => this.reap(), this.limiter.sweepIntervalMs());
    this.idleTimer.unref();
  }

  private async bind(port: number): Promise<void> {
    let chosen = port;
    if (this.options.transports.includes('udp')) {
      const udp = dgram.createSocket({ type: net.isIPv6(this.options.host) ? 'udp6' : 'udp4' });
      this.udp = udp;
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(chosen, this.options.host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      udp.on('error', (err) => this.options.logger.warn({ err }, 'sip udp socket error'));
      udp.on('message', (data, rinfo) => this.onDatagram(data, rinfo));
      chosen = udp.address().port;
    }
    if (this.options.transports.includes('tcp')) {
      const server = net.createServer((socket) => this.accept(socket));
      this.server = server;
      chosen = await listenOn(server, chosen, this.options.host, this.options.logger);
    }
    this.boundPort = chosen;
    if (this.options.transports.includes('tls')) await this.bindTls();
  }

  private async bindTls(): Promise<void> {
    const credentials = this.options.tls;
    if (credentials === undefined) throw new Error('tls transport enabled without certificates');
    const secure = (socket: net.Socket): void => {
      this.adopt(socket, normaliseAddress(socket.remoteAddress ?? ''), 'tls');
    };
    const { server, port } = await listenTls(
      credentials,
      this.options.host,
      this.stats,
      this.options.logger,
      {
        admit: (raw) => this.admit(raw),
        secure,
      },
    );
    this.tlsServer = server;
    this.tlsBoundPort = port;
  }

  private onDatagram(data: Buffer, rinfo: dgram.RemoteInfo): void {
    this.deliver(data, { transport: 'udp', address: rinfo.address, port: rinfo.port }, false);
  }

  private deliver(data: Buffer, flow: Flow, stream: boolean, conn?: Connection): void {
    this.stats.received++;
    if (data.length <= 4 && data.toString('latin1').trim() === '') return; // keep-alive
    const result = parseMessage(data, { stream, maxBytes: this.maxBytes });
    if (!result.ok) {
      this.stats.unparseable++;
      if (result.message?.kind === 'request') annotateVia(result.message, flow);
      this.safely(() => this.options.onUnparseable(result.error, result.message, flow));
      return;
    }
    this.stats.parsed++;
    if (result.message.kind === 'request') {
      if (this.gate !== undefined && !this.gate(inboundView(result.message, flow.address))) {
        this.stats.gateDropped++;
        return;
      }
      if (conn !== undefined) this.learnAlias(result.message.headers.get('Via'), conn, flow);
      annotateVia(result.message, flow);
    }
    this.safely(() => this.options.onMessage(result.message, flow));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.options.logger.error({ err }, 'sip message handler failed');
    }
  }

  /**
   * RFC 5923 §5/§9: `alias` lets new requests to the Via sent-by reuse this connection. Over TLS only when
   * the peer proved its identity with a certificate we trust (§9.1); never for another host than the source.
   */
  private learnAlias(topVia: string | undefined, conn: Connection, flow: Flow): void {
    const alias = viaAlias(topVia, flow);
    if (alias === undefined) return;
    if (conn.transport === 'tls' && !(conn.socket as tls.TLSSocket).authorized) return;
    this.byRemote.set(remoteKey(conn.transport, alias.address, alias.port), conn.id);
  }

  /** A TCP connection our listener accepted: counted against the limits, refused (closed at once) beyond them. */
  private accept(socket: net.Socket): void {
    const address = normaliseAddress(socket.remoteAddress ?? '');
    if (!this.admit(socket, () => this.adopt(socket, address, 'tcp'))) {
      socket.on('error', () => undefined);
      socket.destroy();
    }
  }

  /** Count an inbound connection in (released when its socket closes), or say it must be refused. */
  private admit(socket: net.Socket, then?: () => void): boolean {
    const address = normaliseAddress(socket.remoteAddress ?? '');
    const refusal = this.limiter.admit(address);
    if (refusal !== undefined) {
      if (refusal === 'per-source') this.stats.tcpRefusedPerSource++;
      else this.stats.tcpRefusedGlobal++;
      this.options.logger.debug({ refusal }, 'sip stream connection refused');
      return false;
    }
    socket.once('close', () => this.limiter.release(address));
    then?.();
    return true;
  }

  private adopt(socket: net.Socket, address: string, transport: 'tcp' | 'tls'): Connection {
    const id = this.nextConnectionId++;
    const port = socket.remotePort ?? 0;
    const conn: Connection = {
      id,
      socket,
      transport,
      framer: new StreamFramer(this.maxBytes),
      address,
      port,
      lastMessageMs: Date.now(),
      partialSinceMs: undefined,
      ready: Promise.resolve(),
    };
    this.connections.set(id, conn);
    this.byRemote.set(remoteKey(transport, address, port), id);
    this.stats.tcpConnections++;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      const now = Date.now();
      const framed = conn.framer.push(chunk);
      if (!framed.ok) {
        this.stats.tcpOverflowClosed++;
        this.stats.unparseable++;
        this.options.logger.warn({ error: framed.error }, 'sip tcp framing error, closing connection');
        socket.destroy();
        return;
      }
      if (framed.frames.length > 0) conn.lastMessageMs = now;
      // The header-read deadline runs from the first byte of each message (a completed one restarts it).
      if (conn.framer.bufferedBytes === 0) conn.partialSinceMs = undefined;
      else if (conn.partialSinceMs === undefined || framed.frames.length > 0) conn.partialSinceMs = now;
      for (const frame of framed.frames) {
        if (socket.destroyed) break;
        this.deliver(
          frame,
          { transport, address: conn.address, port: conn.port, connectionId: id },
          true,
          conn,
        );
      }
    });
    socket.on('error', (err) => this.options.logger.debug({ err, transport }, 'sip stream connection error'));
    socket.on('close', () => {
      this.connections.delete(id);
      for (const [key, value] of this.byRemote) if (value === id) this.byRemote.delete(key);
    });
    return conn;
  }

  isOpen(connectionId: number | undefined): boolean {
    return connectionId !== undefined && this.connections.has(connectionId);
  }

  /** Serialize and send. Never throws; resolves false when the message could not be sent. */
  async send(message: SipMessage, target: Flow): Promise<boolean> {
    return this.sendBytes(serializeMessage(message), target);
  }

  /** RFC 5626 §3.5.1 keep-alive: a double CRLF on the flow (the registrar's connection or UDP path). */
  sendKeepAlive(target: Flow): Promise<boolean> {
    return this.sendBytes(KEEP_ALIVE, target);
  }

  private async sendBytes(data: Buffer, target: Flow): Promise<boolean> {
    if (this.closed) return false;
    try {
      if (target.transport === 'udp') {
        const udp = this.udp;
        if (udp === undefined) throw new Error('udp transport not enabled');
        await new Promise<void>((resolve, reject) =>
          udp.send(data, target.port, socketHost(target.address), (err) => (err ? reject(err) : resolve())),
        );
      } else {
        const conn = await this.connectionFor(target);
        conn.lastMessageMs = Date.now();
        await new Promise<void>((resolve, reject) =>
          conn.socket.write(data, (err) => (err ? reject(err) : resolve())),
        );
      }
      this.stats.sent++;
      return true;
    } catch (err) {
      this.stats.sendErrors++;
      this.options.logger.warn({ err, transport: target.transport }, 'sip send failed');
      return false;
    }
  }

  private async connectionFor(target: Flow): Promise<Connection> {
    const pinned = target.connectionId === undefined ? undefined : this.connections.get(target.connectionId);
    if (pinned !== undefined && !pinned.socket.destroyed) {
      await pinned.ready;
      return pinned;
    }
    const host = socketHost(target.address);
    const transport = target.transport === 'tls' ? 'tls' : 'tcp';
    const key = remoteKey(transport, normaliseAddress(host), target.port);
    const existingId = this.byRemote.get(key);
    const existing = existingId === undefined ? undefined : this.connections.get(existingId);
    if (existing !== undefined && !existing.socket.destroyed) {
      await existing.ready;
      return existing;
    }
    const { socket, connected } = dialStream(target, host, this.options.tls);
    const conn = this.adopt(socket, normaliseAddress(host), transport);
    this.byRemote.set(key, conn.id);
    conn.ready = connected;
    const timeout = setTimeout(() => socket.destroy(new Error('connect timeout')), 10_000);
    try {
      await conn.ready;
    } finally {
      clearTimeout(timeout);
    }
    return conn;
  }

  private reap(): void {
    if (this.connections.size === 0) return;
    const now = Date.now();
    const withDialog = new Set(this.dialogConnections());
    for (const conn of this.connections.values()) {
      const reason = this.limiter.reapReason(conn, now, withDialog.has(conn.id));
      if (reason !== undefined) this.closeFor(conn, reason);
    }
  }

  private closeFor(conn: Connection, reason: ReapReason): void {
    if (reason === 'header-timeout') this.stats.tcpHeaderTimeoutClosed++;
    else this.stats.tcpIdleClosed++;
    this.options.logger.debug({ reason }, 'sip tcp connection closed');
    conn.socket.destroy();
  }

  private closeListeners(): void {
    this.udp?.close();
    this.udp = undefined;
    this.server?.close();
    this.server = undefined;
    this.tlsServer?.close();
    this.tlsServer = undefined;
    this.options.tls?.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer !== undefined) clearInterval(this.idleTimer);
    for (const conn of this.connections.values()) conn.socket.destroy();
    this.connections.clear();
    this.byRemote.clear();
    const udp = this.udp;
    const servers = [this.server, this.tlsServer].filter((s) => s !== undefined);
    this.udp = undefined;
    this.server = undefined;
    this.tlsServer = undefined;
    this.options.tls?.close();
    await Promise.all([
      udp === undefined ? undefined : new Promise<void>((resolve) => udp.close(() => resolve())),
      ...servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    ]);
  }
}
