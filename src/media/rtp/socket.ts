/**
 * One call's RTP socket: receive, parse, latch, count; send pre-built packets to the latched peer.
 *
 * Symmetric RTP (RFC 4961): we send from the port we receive on, to the address and port the peer's packets
 * come from, which is what makes calls work through NAT. Which source is latched is decided by
 * {@link RtpLatch} (latch.ts): probation of RFC 3550 §A.1 per source, preferring the SIP signaling address
 * and the SDP address, no takeover by another stream. Policies (DESIGN.md §3 Media):
 *
 * - `'sdp-or-nat'` (default): the signaling address and a public SDP address are preferred; another source
 *   may latch only when no preferred address is known (unknown or private SDP address and no signaling
 *   address: a NAT'd peer), or after `foreignLatchDelayMs` without a single preferred packet.
 * - `'sdp-only'`: only a source on the SDP address latches; unknown SDP address → any source.
 * - `'first-source'`: the first source to complete probation.
 *
 * Until a source is latched, packets go to the SDP address ({@link RtpSocket.setRemote}) — never to a source
 * that has not proven itself — and nothing received is delivered. Once latched, packets from any other
 * address:port are dropped and counted (`foreignDropped`). A new SDP address or port (re-INVITE) unlatches.
 */
import { EventEmitter } from 'node:events';
import type { RemoteInfo, Socket } from 'node:dgram';
import type { Logger } from '../../observability/logger.js';
import { TelephoneEventReceiver, type DtmfDigitEvent } from './dtmf.js';
import { InactivityWatch } from './inactivity.js';
import { LatchVerdict, RtpLatch, type LatchPolicy } from './latch.js';
import { isPrivateAddress } from './private-address.js';
import { createRtpPacket, isRtcp, parseRtp, type RtpPacket } from './packet.js';
import type { PortLease, PortPool } from './port-pool.js';
import type { PacketProtector } from './srtp/session.js';

export type { LatchPolicy } from './latch.js';
export { isPrivateAddress } from './private-address.js';

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
  /**
   * A source completed probation and is now the peer (DESIGN.md §4: greet after first RTP). Emitted again
   * when the stream moves (NAT rebinding proven by SSRC and sequence numbers) or a preferred source takes
   * over from a fallback one.
   */
  latched: [address: string, port: number];
  /**
   * An RTCP datagram on the RTP port (rtcp-mux, RFC 5761) from the latched source; only emitted while a
   * listener exists (else counted in `rtcpIgnored`). Same buffer rules as `packet`.
   */
  rtcp: [datagram: Buffer, remote: RemoteInfo];
  /** No RTP arrived for `inactivityTimeoutMs`. Emitted once per silent period. */
  timeout: [];
  close: [];
}

export interface RtpSocketCounters {
  packetsReceived: number;
  bytesReceived: number;
  packetsSent: number;
  bytesSent: number;
  /** The same before SRTP protection (RTCP's sender octet count, RFC 3550 §6.4.1, excludes the tag). */
  plainBytesSent: number;
  /** Datagrams that failed RTP parsing (RFC 3550 §5.1 checks in parseRtp). */
  malformed: number;
  /** Packets from a source other than the latched one, or from one that may not latch (not delivered). */
  foreignDropped: number;
  /** Packets from a latchable source still on probation (RFC 3550 §A.1), dropped. */
  probationRejected: number;
  /** Latches after the first: NAT rebinding of the same stream, or a preferred source taking over. */
  relatched: number;
  /** RTCP packets on the RTP port (rtcp-mux, RFC 5761) nobody listens for, or not from the latched source. */
  rtcpIgnored: number;
  /** send() calls made before any remote was known. */
  sendNoRemote: number;
  sendErrors: number;
  /**
   * SRTP (see setProtector): datagrams refused before parsing — failed authentication, replayed, too old,
   * malformed or past the key's lifetime — and packets we could not protect (never sent in the clear).
   */
  srtpRejected: number;
  srtpProtectFailed: number;
}

export interface RtpSocketOptions {
  readonly pool: PortPool;
  /** Local address to bind (IPv4 or IPv6 literal). */
  readonly host: string;
  readonly latchPolicy?: LatchPolicy;
  /**
   * Source address of the SIP request that set up this call (the INVITE's, RFC 3261 §18.2.1 `received`):
   * the preferred media source. Can also be set later with {@link RtpSocket.setSignalingAddress}.
   */
  readonly signalingAddress?: string;
  /** Consecutive packets of one SSRC from one source before it latches. Default 3 (at least 2). */
  readonly probationPackets?: number;
  /** The same for a source on the signaling/SDP address (default `probationPackets`); see RtpLatchOptions. */
  readonly matchedProbationPackets?: number;
  /**
   * With a preferred address known, how long after the first packet from elsewhere (counted from the first
   * setRemote) another source may latch if no preferred packet came at all. Default 1000 ms: a caller starts
   * its RTP on the 200 OK, well within it; a peer whose media comes from yet another address (baresip on
   * loopback sends RTP from 127.0.0.1 whatever its SIP address) loses at most that much audio.
   */
  readonly foreignLatchDelayMs?: number;
  /** Emit `timeout` after this long without inbound RTP. 0 disables. Default 0. */
  readonly inactivityTimeoutMs?: number;
  readonly logger?: Logger;
}

/** See {@link RtpSocket.setReceptionTap}. */
export interface ReceptionTap {
  note(ssrc: number, sequence: number): void;
}

export class RtpSocket extends EventEmitter<RtpSocketEvents> {
  readonly counters: RtpSocketCounters = {
    packetsReceived: 0,
    bytesReceived: 0,
    packetsSent: 0,
    bytesSent: 0,
    plainBytesSent: 0,
    malformed: 0,
    foreignDropped: 0,
    probationRejected: 0,
    relatched: 0,
    rtcpIgnored: 0,
    sendNoRemote: 0,
    sendErrors: 0,
    srtpRejected: 0,
    srtpProtectFailed: 0,
  };
  readonly #lease: PortLease;
  readonly #socket: Socket;
  readonly #packet: RtpPacket = createRtpPacket();
  readonly #latch: RtpLatch;
  readonly #foreignDelayMs: number;
  readonly #logger: Logger | undefined;
  #sdpAddress: string | undefined;
  #sdpPort = 0;
  #remoteSet = false;
  #latchCount = 0;
  #graceTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #inactivity: InactivityWatch;
  #dtmfPayloadType = -1;
  #dtmf: TelephoneEventReceiver | undefined;
  #protector: PacketProtector | undefined;
  #tap: ReceptionTap | undefined;
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
    this.#latch = new RtpLatch({
      policy: options.latchPolicy ?? 'sdp-or-nat',
      ...(options.probationPackets === undefined ? {} : { probationPackets: options.probationPackets }),
      ...(options.matchedProbationPackets === undefined
        ? {}
        : { matchedProbationPackets: options.matchedProbationPackets }),
    });
    this.#latch.setSignalingAddress(options.signalingAddress);
    this.#foreignDelayMs = options.foreignLatchDelayMs ?? 1000;
    this.#logger = options.logger;
    this.#socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
    this.#socket.on('error', (err) => {
      // Receive-side errors (ICMP port unreachable on some platforms) must not kill the call.
      this.#logger?.debug({ err }, 'rtp socket error');
    });
    // Port + 1 (RTCP, RFC 3550 §11) when the pool pairs it; ICMP errors there must not kill the call either.
    lease.rtcpSocket?.on('error', (err) => this.#logger?.debug({ err }, 'rtcp socket error'));
    this.#inactivity = new InactivityWatch(
      options.inactivityTimeoutMs ?? 0,
      () => this.counters.packetsReceived,
      () => this.emit('timeout'),
    );
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

  /** The socket bound to port + 1 for RTCP, when the pool pairs it (see RtcpSession). */
  get rtcpSocket(): Socket | undefined {
    return this.#lease.rtcpSocket;
  }

  /** Where send() goes now: the latched source, else the SDP address, else undefined. */
  get remote(): { address: string; port: number } | undefined {
    const latched = this.#latch.address;
    if (latched !== undefined) return { address: latched, port: this.#latch.port };
    if (this.#sdpAddress !== undefined && this.#sdpPort > 0)
      return { address: this.#sdpAddress, port: this.#sdpPort };
    return undefined;
  }

  get latched(): boolean {
    return this.#latch.latched;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sets the remote media address from SDP (c= and m= lines). A changed address or port unlatches so the
   * new source goes through probation (re-INVITE moving media, RFC 3264 §8).
   */
  setRemote(address: string, port: number): void {
    const unknown = address === '' || address === '0.0.0.0' || address === '::';
    const next = unknown ? undefined : address;
    const changed = next !== this.#sdpAddress || port !== this.#sdpPort;
    this.#sdpAddress = next;
    this.#sdpPort = port;
    this.#remoteSet = true;
    this.#latch.setSdp(next, next !== undefined && !isPrivateAddress(next), changed);
    if (changed) this.#clearGrace();
  }

  /** The SIP signaling source address of the call (see {@link RtpSocketOptions.signalingAddress}). */
  setSignalingAddress(address: string | undefined): void {
    this.#latch.setSignalingAddress(address);
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
    const plainLength = length;
    if (this.#protector !== undefined) {
      // SRTP in place: `buf` needs SRTP_MAX_OVERHEAD_BYTES of room past `length` (srtp/suites.ts).
      const protectedLength = this.#protector.protectRtp(buf, length);
      if (protectedLength < 0) {
        this.counters.srtpProtectFailed++;
        return false;
      }
      length = protectedLength;
    }
    let address = this.#latch.address;
    let port = this.#latch.port;
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
    this.counters.plainBytesSent += plainLength;
    return true;
  }

  /**
   * Sends a non-RTP datagram (multiplexed RTCP, RFC 5761) to where send() goes, outside the RTP counters.
   * The same buffer rule as send(). False when no remote is known or the socket is closed.
   */
  sendMuxed(buf: Buffer, length: number): boolean {
    const remote = this.remote;
    if (this.#closed || remote === undefined || remote.port <= 0) return false;
    this.#socket.send(buf, 0, length, remote.port, remote.address, this.#onSendDone);
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

  /**
   * SRTP (RFC 3711) for this socket: every datagram is authenticated and decrypted before it is parsed or
   * may latch (so nothing without the key steers the media), and every packet sent is protected. Pass
   * undefined for plain RTP.
   */
  /**
   * RTCP's receiver statistics (RtcpReception), told of every delivered packet by a plain call: a second
   * 'packet' listener would make each emit copy the listener array, an allocation per packet.
   */
  setReceptionTap(tap: ReceptionTap | undefined): void {
    this.#tap = tap;
  }

  setProtector(protector: PacketProtector | undefined): void {
    this.#protector = protector;
  }

  /** Closes the socket and returns its port to the pool. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inactivity.stop();
    this.#clearGrace();
    this.#lease.release();
    this.#dtmf?.flush();
    this.emit('close');
  }

  #onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.#closed) return;
    let length = msg.length;
    if (isRtcp(msg, length)) {
      // RFC 5761: RTCP shares the RTP latch: only the latched source's reports are looked at.
      const fromPeer = rinfo.address === this.#latch.address && rinfo.port === this.#latch.port;
      if (fromPeer && this.listenerCount('rtcp') > 0) this.emit('rtcp', msg, rinfo);
      else this.counters.rtcpIgnored++;
      return;
    }
    if (this.#protector !== undefined) {
      length = this.#protector.unprotectRtp(msg, length);
      if (length < 0) {
        this.counters.srtpRejected++;
        return;
      }
    }
    const packet = this.#packet;
    if (!parseRtp(msg, packet, length)) {
      // Garbage never steers our media: it is not even a probation candidate.
      this.counters.malformed++;
      return;
    }
    const verdict = this.#latch.check(rinfo.address, rinfo.port, packet.ssrc, packet.sequence);
    if (verdict === LatchVerdict.Probation) {
      this.counters.probationRejected++;
      return;
    }
    if (verdict === LatchVerdict.Foreign) {
      this.counters.foreignDropped++;
      if (!this.#latch.latched) this.#startGrace();
      return;
    }
    if (verdict === LatchVerdict.Latched) {
      if (this.#latchCount++ > 0) this.counters.relatched++;
      this.#clearGrace();
      this.emit('latched', rinfo.address, rinfo.port);
    }
    this.counters.packetsReceived++;
    this.counters.bytesReceived += length;
    this.#tap?.note(packet.ssrc, packet.sequence);
    if (packet.payloadType === this.#dtmfPayloadType) this.#dtmf?.receivePacket(packet);
    this.emit('packet', packet, rinfo);
  }

  /**
   * A packet came from a source that may not latch while a preferred address is known. If none of the
   * preferred addresses sends anything for foreignLatchDelayMs (counted only once the SDP answer is in
   * place: before that the caller cannot be sending yet), the peer's media evidently comes from elsewhere
   * (a carrier's separate media server) and the other source may latch after its probation. Once per SDP.
   */
  #startGrace(): void {
    if (this.#graceTimer !== undefined || !this.#remoteSet || !this.#latch.foreignNeedsGrace) return;
    if (this.#latch.preferredSeen) return;
    this.#graceTimer = setTimeout(() => {
      if (!this.#latch.preferredSeen) this.#latch.allowForeign();
    }, this.#foreignDelayMs);
    this.#graceTimer.unref();
  }

  #clearGrace(): void {
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
  }
}
