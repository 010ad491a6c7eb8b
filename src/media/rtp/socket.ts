/**
 * One call's RTP socket: receive, parse, latch, count; send pre-built packets to the latched peer.
 *
 * Symmetric RTP (RFC 4961): we send from the port we receive on, to the address and port the peer's packets
 * come from, which is what makes calls work through NAT. Latching policy (DESIGN.md §3 Media):
 *
 * - Before latching, packets go to the SDP address ({@link RtpSocket.setRemote}).
 * - `'sdp-or-nat'` (default): latch to the first packet whose source address equals the SDP address (any
 *   port: a NAT may rewrite it). If the SDP address is unknown (unset, 0.0.0.0, ::) or private (RFC 1918,
 *   RFC 6598 CGNAT, link-local, IPv6 ULA), the peer is behind NAT and cannot be matched, so we
 *   latch to the first source whatever it is.
 * - `'sdp-only'`: latch only to a source matching the SDP address; unknown SDP address → first source.
 * - `'first-source'`: latch to whichever source sends first.
 *
 * Once latched, packets from any other address:port are dropped and counted (`foreignDropped`). A new SDP
 * address (re-INVITE) unlatches.
 */
import { EventEmitter } from 'node:events';
import type { RemoteInfo, Socket } from 'node:dgram';
import type { Logger } from '../../observability/logger.js';
import { TelephoneEventReceiver, type DtmfDigitEvent } from './dtmf.js';
import { createRtpPacket, isRtcp, parseRtp, type RtpPacket } from './packet.js';
import type { PortLease, PortPool } from './port-pool.js';

export type LatchPolicy = 'sdp-or-nat' | 'sdp-only' | 'first-source';

/**
 * Events of an {@link RtpSocket}. The `packet` RtpPacket object is reused for every packet and its `buffer`
 * belongs to that datagram only: listeners must copy what they keep before returning.
 */
export interface RtpSocketEvents {
  packet: [packet: RtpPacket, remote: RemoteInfo];
  /**
   * A key press received as RFC 4733 telephone-event, once per event (see setTelephoneEvent). Those packets
   * are also emitted as `packet` so the jitter buffer can account for their sequence numbers.
   */
  dtmf: [event: DtmfDigitEvent];
  /** The remote address was fixed by the first accepted packet (DESIGN.md §4: greet after first RTP). */
  latched: [address: string, port: number];
  /** No RTP arrived for `inactivityTimeoutMs`. Emitted once per silent period. */
  timeout: [];
  close: [];
}

export interface RtpSocketCounters {
  packetsReceived: number;
  bytesReceived: number;
  packetsSent: number;
  bytesSent: number;
  /** Datagrams that failed RTP parsing (RFC 3550 §5.1 checks in parseRtp). */
  malformed: number;
  /** Packets from a source other than the latched (or latchable) one. */
  foreignDropped: number;
  /** RTCP packets on the RTP port (rtcp-mux, RFC 5761), ignored. */
  rtcpIgnored: number;
  /** send() calls made before any remote was known. */
  sendNoRemote: number;
  sendErrors: number;
}

export interface RtpSocketOptions {
  readonly pool: PortPool;
  /** Local address to bind (IPv4 or IPv6 literal). */
  readonly host: string;
  readonly latchPolicy?: LatchPolicy;
  /** Emit `timeout` after this long without inbound RTP. 0 disables. Default 0. */
  readonly inactivityTimeoutMs?: number;
  readonly logger?: Logger;
}

export class RtpSocket extends EventEmitter<RtpSocketEvents> {
  readonly counters: RtpSocketCounters = {
    packetsReceived: 0,
    bytesReceived: 0,
    packetsSent: 0,
    bytesSent: 0,
    malformed: 0,
    foreignDropped: 0,
    rtcpIgnored: 0,
    sendNoRemote: 0,
    sendErrors: 0,
  };
  readonly #lease: PortLease;
  readonly #socket: Socket;
  readonly #packet: RtpPacket = createRtpPacket();
  readonly #policy: LatchPolicy;
  readonly #timeoutMs: number;
  readonly #logger: Logger | undefined;
  #sdpAddress: string | undefined;
  #sdpPort = 0;
  #sdpMatchable = false;
  #latchedAddress: string | undefined;
  #latchedPort = 0;
  #timer: NodeJS.Timeout | undefined;
  #checkPeriodMs = 0;
  #idleChecks = 0;
  #packetsAtLastCheck = 0;
  #timedOut = false;
  #closed = false;
  #dtmfPayloadType = -1;
  #dtmf: TelephoneEventReceiver | undefined;
  readonly #onSendDone = (err: Error | null): void => {
    if (err !== null) {
      this.counters.sendErrors++;
      this.#logger?.debug({ err }, 'rtp send failed');
    }
  };

  private constructor(lease: PortLease, options: RtpSocketOptions) {
    super();
    this.#lease = lease;
    this.#socket = lease.socket;
    this.#policy = options.latchPolicy ?? 'sdp-or-nat';
    this.#timeoutMs = options.inactivityTimeoutMs ?? 0;
    this.#logger = options.logger;
    this.#socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
    this.#socket.on('error', (err) => {
      // Receive-side errors (ICMP port unreachable on some platforms) must not kill the call.
      this.#logger?.debug({ err }, 'rtp socket error');
    });
    this.#startInactivityCheck();
  }

  /** Allocates a port from the pool, binds it on `options.host` and returns the socket. */
  static async open(options: RtpSocketOptions): Promise<RtpSocket> {
    const lease = await options.pool.allocate(options.host);
    return new RtpSocket(lease, options);
  }

  /** The bound local port (even, from the pool). */
  get port(): number {
    return this.#lease.port;
  }

  /** Where send() goes now: the latched source, else the SDP address, else undefined. */
  get remote(): { address: string; port: number } | undefined {
    if (this.#latchedAddress !== undefined) return { address: this.#latchedAddress, port: this.#latchedPort };
    if (this.#sdpAddress !== undefined && this.#sdpPort > 0)
      return { address: this.#sdpAddress, port: this.#sdpPort };
    return undefined;
  }

  get latched(): boolean {
    return this.#latchedAddress !== undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sets the remote media address from SDP (c= and m= lines). A changed address unlatches so the next
   * matching packet re-latches (re-INVITE moving media, RFC 3264 §8).
   */
  setRemote(address: string, port: number): void {
    const unknown = address === '' || address === '0.0.0.0' || address === '::';
    const next = unknown ? undefined : address;
    if (next !== this.#sdpAddress) {
      this.#latchedAddress = undefined;
      this.#latchedPort = 0;
    }
    this.#sdpAddress = next;
    this.#sdpPort = port;
    this.#sdpMatchable = next !== undefined && (this.#policy === 'sdp-only' || !isPrivateAddress(next));
  }

  /**
   * Sends `buf[0, length)` (a complete RTP packet) to the current remote, without copying it. Node reads
   * `buf` asynchronously (dgram defers the send to the next tick, after its address lookup), so the caller
   * must not modify it until the next timer or I/O turn: a 20 ms playout ticker reusing one buffer per
   * stream is safe; several packets sent in one tick (an RFC 4733 burst) need distinct buffers.
   * Returns false when no remote is known yet or the socket is closed.
   */
  send(buf: Buffer, length: number): boolean {
    if (this.#closed) return false;
    let address = this.#latchedAddress;
    let port = this.#latchedPort;
    if (address === undefined) {
      address = this.#sdpAddress;
      port = this.#sdpPort;
    }
    if (address === undefined || port <= 0) {
      this.counters.sendNoRemote++;
      return false;
    }
    this.#socket.send(buf, 0, length, port, address, this.#onSendDone);
    this.counters.packetsSent++;
    this.counters.bytesSent += length;
    return true;
  }

  /**
   * Decodes packets of `payloadType` (the SDP a=rtpmap telephone-event/`clockRateHz`) as RFC 4733 DTMF and
   * emits `dtmf`. Pass undefined to stop.
   */
  setTelephoneEvent(payloadType: number | undefined, clockRateHz = 8000): void {
    this.#dtmf?.flush();
    this.#dtmfPayloadType = payloadType ?? -1;
    this.#dtmf =
      payloadType === undefined
        ? undefined
        : new TelephoneEventReceiver({ clockRateHz, onDigit: (event) => this.emit('dtmf', event) });
  }

  /** Closes the socket and returns its port to the pool. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#lease.release();
    this.#dtmf?.flush();
    this.emit('close');
  }

  #onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.#closed) return;
    const length = msg.length;
    if (isRtcp(msg, length)) {
      this.counters.rtcpIgnored++;
      return;
    }
    if (!this.#acceptSource(rinfo)) {
      this.counters.foreignDropped++;
      return;
    }
    const packet = this.#packet;
    if (!parseRtp(msg, packet, length)) {
      this.counters.malformed++;
      return;
    }
    if (this.#latchedAddress === undefined) {
      // Latch only on a packet that parsed: garbage must not steer our media.
      this.#latchedAddress = rinfo.address;
      this.#latchedPort = rinfo.port;
      this.emit('latched', rinfo.address, rinfo.port);
    }
    this.counters.packetsReceived++;
    this.counters.bytesReceived += length;
    if (packet.payloadType === this.#dtmfPayloadType) this.#dtmf?.receivePacket(packet);
    this.emit('packet', packet, rinfo);
  }

  /** Would a packet from `rinfo` be accepted (either from the latched peer or eligible to latch)? */
  #acceptSource(rinfo: RemoteInfo): boolean {
    if (this.#latchedAddress !== undefined) {
      return rinfo.port === this.#latchedPort && rinfo.address === this.#latchedAddress;
    }
    if (this.#policy === 'first-source' || this.#sdpAddress === undefined || !this.#sdpMatchable) return true;
    return rinfo.address === this.#sdpAddress;
  }

  /**
   * Inactivity without a clock read or timer per packet: one interval per socket ticks four times per
   * timeout and compares the received-packet counter; `timeout` fires after a full timeout of ticks without
   * a new packet (so between 1 and 1.25 × inactivityTimeoutMs after the last one). Node's monotonic clocks
   * allocate on every read, which is why the hot path only bumps a counter.
   */
  #startInactivityCheck(): void {
    if (this.#timeoutMs <= 0) return;
    this.#checkPeriodMs = Math.max(5, Math.ceil(this.#timeoutMs / 4));
    this.#timer = setInterval(() => this.#onCheck(), this.#checkPeriodMs);
    this.#timer.unref();
  }

  #onCheck(): void {
    const received = this.counters.packetsReceived;
    if (received !== this.#packetsAtLastCheck) {
      this.#packetsAtLastCheck = received;
      this.#idleChecks = 0;
      this.#timedOut = false;
      return;
    }
    this.#idleChecks++;
    if (!this.#timedOut && this.#idleChecks * this.#checkPeriodMs >= this.#timeoutMs) {
      this.#timedOut = true; // once per silent period
      this.emit('timeout');
    }
  }
}

/**
 * Addresses a peer behind NAT would put in SDP that we cannot see as a packet source: RFC 1918, RFC 6598
 * shared space, link-local, and IPv6 ULA/link-local. Loopback is not private here (tests and local peers).
 */
export function isPrivateAddress(address: string): boolean {
  const lower = address.toLowerCase();
  if (lower.includes(':')) {
    return lower === '::1' || lower.startsWith('fc') || lower.startsWith('fd') || lower.startsWith('fe80:');
  }
  const parts = address.split('.');
  const a = Number(parts[0]);
  const b = Number(parts[1]);
  if (a === 10) return true;
  // Loopback: a host answers from any 127/8 address whatever it wrote in its SDP (baresip does this).
  if (a === 127) return true;
  if (a === 172 && b >= 16 && b <= 31) return true;
  if (a === 192 && b === 168) return true;
  if (a === 100 && b >= 64 && b <= 127) return true;
  if (a === 169 && b === 254) return true;
  return false;
}
