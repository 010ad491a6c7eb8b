/**
 * SIP transport layer (RFC 3261 §18): one UDP socket and one TCP server on the same port, plus outbound TCP
 * connections. TCP connections are reused both ways (RFC 5923 style): responses and in-dialog requests go back
 * on the connection a request arrived on, which is what sipp and most phones behind NAT expect.
 *
 * Inbound TCP is bounded (issue 11, conn-limits.ts): per-source and global connection caps, a header-read
 * deadline, and an idle timeout for connections that carry no dialog. An optional gate drops requests silently
 * before any transaction exists (inbound-gate.ts).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from '../../observability/logger.js';
import type { SipTransport } from '../signaling.js';
import { ConnectionLimiter, resolveTcpLimits, type ReapReason, type TcpLimits } from './conn-limits.js';
import { StreamFramer } from './framing.js';
import { inboundView, type InboundGate } from './inbound-gate.js';
import type { SipMessage } from './message.js';
import { MAX_MESSAGE_BYTES, parseMessage } from './parser.js';
import { serializeMessage } from './serializer.js';
import { formatVia, parseVia, socketHost } from './syntax.js';

/** Where a message came from / goes to. `connectionId` pins a TCP connection. */
export interface Flow {
  readonly transport: SipTransport;
  readonly address: string;
  readonly port: number;
  readonly connectionId?: number;
}

export interface TransportStats {
  received: number;
  parsed: number;
  unparseable: number;
  sent: number;
  sendErrors: number;
  tcpConnections: number;
  tcpOverflowClosed: number;
  /** Inbound connections refused because their source already held `maxPerSource`. */
  tcpRefusedPerSource: number;
  /** Inbound connections refused because the process held `maxConnections`. */
  tcpRefusedGlobal: number;
  /** Connections closed because a message did not complete within the header-read deadline. */
  tcpHeaderTimeoutClosed: number;
  /** Connections without a dialog closed after the idle timeout. */
  tcpIdleClosed: number;
  /** Requests the inbound gate dropped without an answer. */
  gateDropped: number;
}

export interface TransportOptions {
  readonly host: string;
  readonly port: number;
  readonly transports: readonly SipTransport[];
  readonly logger: Logger;
  readonly maxMessageBytes?: number;
  readonly onMessage: (message: SipMessage, flow: Flow) => void;
  /** A message that failed to parse; `message` is set when enough was readable to answer 400. */
  readonly onUnparseable: (error: string, message: SipMessage | undefined, flow: Flow) => void;
}

interface Connection {
  readonly id: number;
  readonly socket: net.Socket;
  readonly framer: StreamFramer;
  readonly address: string;
  readonly port: number;
  /** Accepted by our listener (counted against the limits), not dialled by us. */
  readonly inbound: boolean;
  /** The last complete message either way (bytes alone are not activity: a drip must not keep it alive). */
  lastMessageMs: number;
  /** When the first byte of the message being read arrived. */
  partialSinceMs: number | undefined;
  ready: Promise<void>;
}

const KEEP_ALIVE = Buffer.from('\r\n\r\n', 'latin1');

export class TransportLayer {
  private udp: dgram.Socket | undefined;
  private server: net.Server | undefined;
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
  readonly stats: TransportStats = {
    received: 0,
    parsed: 0,
    unparseable: 0,
    sent: 0,
    sendErrors: 0,
    tcpConnections: 0,
    tcpOverflowClosed: 0,
    tcpRefusedPerSource: 0,
    tcpRefusedGlobal: 0,
    tcpHeaderTimeoutClosed: 0,
    tcpIdleClosed: 0,
    gateDropped: 0,
  };
  private readonly maxBytes: number;

  constructor(private readonly options: TransportOptions) {
    this.maxBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  }

  get port(): number {
    return this.boundPort;
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
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(chosen, this.options.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => this.options.logger.warn({ err }, 'sip tcp server error'));
      const address = server.address();
      if (address !== null && typeof address === 'object') chosen = address.port;
    }
    this.boundPort = chosen;
  }

  private onDatagram(data: Buffer, rinfo: dgram.RemoteInfo): void {
    this.deliver(data, { transport: 'udp', address: rinfo.address, port: rinfo.port }, false);
  }

  private deliver(data: Buffer, flow: Flow, stream: boolean): void {
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

  /** A connection our listener accepted: counted against the limits, refused (closed at once) beyond them. */
  private accept(socket: net.Socket): void {
    const address = normaliseAddress(socket.remoteAddress ?? '');
    const refusal = this.limiter.admit(address);
    if (refusal !== undefined) {
      if (refusal === 'per-source') this.stats.tcpRefusedPerSource++;
      else this.stats.tcpRefusedGlobal++;
      this.options.logger.debug({ refusal }, 'sip tcp connection refused');
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    this.adopt(socket, address, true);
  }

  private adopt(socket: net.Socket, address: string, inbound: boolean): Connection {
    const id = this.nextConnectionId++;
    const port = socket.remotePort ?? 0;
    const conn: Connection = {
      id,
      socket,
      framer: new StreamFramer(this.maxBytes),
      address,
      port,
      inbound,
      lastMessageMs: Date.now(),
      partialSinceMs: undefined,
      ready: Promise.resolve(),
    };
    this.connections.set(id, conn);
    this.byRemote.set(`${address}:${port}`, id);
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
          { transport: 'tcp', address: conn.address, port: conn.port, connectionId: id },
          true,
        );
      }
    });
    socket.on('error', (err) => this.options.logger.debug({ err }, 'sip tcp connection error'));
    socket.on('close', () => {
      if (inbound) this.limiter.release(address);
      this.connections.delete(id);
      if (this.byRemote.get(`${conn.address}:${conn.port}`) === id)
        this.byRemote.delete(`${conn.address}:${conn.port}`);
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
    const existingId = this.byRemote.get(`${normaliseAddress(host)}:${target.port}`);
    const existing = existingId === undefined ? undefined : this.connections.get(existingId);
    if (existing !== undefined && !existing.socket.destroyed) {
      await existing.ready;
      return existing;
    }
    const socket = net.connect({ host, port: target.port });
    const conn = this.adopt(socket, normaliseAddress(host), false);
    this.byRemote.set(`${normaliseAddress(host)}:${target.port}`, conn.id);
    conn.ready = new Promise<void>((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', reject);
    });
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
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer !== undefined) clearInterval(this.idleTimer);
    for (const conn of this.connections.values()) conn.socket.destroy();
    this.connections.clear();
    this.byRemote.clear();
    const udp = this.udp;
    const server = this.server;
    this.udp = undefined;
    this.server = undefined;
    await Promise.all([
      udp === undefined ? undefined : new Promise<void>((resolve) => udp.close(() => resolve())),
      server === undefined ? undefined : new Promise<void>((resolve) => server.close(() => resolve())),
    ]);
  }
}

function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * §18.2.1: add `received` when the top Via's sent-by host differs from the packet source; RFC 3581: fill in
 * `rport` when the client asked for it (and then always add `received`).
 */
export function annotateVia(message: SipMessage, flow: Flow): void {
  const top = message.headers.get('Via');
  if (top === undefined) return;
  const via = parseVia(top);
  if (via === undefined) return;
  const params = new Map(via.params);
  const wantsRport = params.has('rport');
  if (via.host !== flow.address || wantsRport) params.set('received', flow.address);
  if (wantsRport) params.set('rport', String(flow.port));
  message.headers.setFirst('Via', formatVia({ ...via, params }));
}

/**
 * §18.2.2: where a response to a request with this top Via goes. Over TCP: the connection the request came on,
 * or, once it has closed, a new connection to `received` and the sent-by port. Over UDP: `received` and
 * `rport` (RFC 3581), else the sent-by port.
 */
export function responseTarget(topVia: string | undefined, requestFlow: Flow, connectionOpen = true): Flow {
  if (requestFlow.transport === 'tcp' && connectionOpen) return requestFlow;
  const via = topVia === undefined ? undefined : parseVia(topVia);
  if (via === undefined) return requestFlow;
  const address = socketHost(via.params.get('received') ?? via.host);
  if (requestFlow.transport === 'tcp') return { transport: 'tcp', address, port: via.port ?? 5060 };
  const rport = via.params.get('rport');
  const port = rport !== undefined && /^\d+$/.test(rport) ? Number(rport) : (via.port ?? 5060);
  return { transport: 'udp', address, port };
}
