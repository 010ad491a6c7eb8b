/**
 * One call's RTCP (RFC 3550 §6): a compound SR (while we send RTP) or RR plus SDES CNAME every ~5 s, the
 * peer's reports parsed into per-call quality figures, and a BYE when the call ends.
 *
 * Transport: RTCP goes to the RTP port + 1 (§11) or the `a=rtcp:` port (RFC 3605), from our port + 1 (the
 * pool binds the pair), or on the RTP port itself when rtcp-mux was offered and answered (RFC 5761). RTCP
 * shares the RTP latch: a report is only looked at when it comes from the address the RTP stream is latched
 * to (on the mux port: from exactly the latched address:port); anything else is dropped and counted. Our
 * reports then go to the port the peer's reports come from (symmetric, like RTP through NAT); before one
 * arrived, to the SDP's RTCP port, or to the latched RTP port + 1 when NAT moved the RTP stream.
 *
 * Timing (§6.3): with two participants at telephone rates the minimum interval of 5 s dominates, so the
 * interval is `intervalMs` randomised to 0.5–1.5× per report, the first one after half of that (§6.3.2).
 * No timer reconsideration: it only matters for large sessions.
 *
 * Hot path: the one per-RTP-packet cost is RtcpReception.note() (allocation-free), called by the socket
 * (RtpSocket.setReceptionTap). Reports are rare and allocate freely. An optional {@link RtcpTransform} protects/unprotects every compound (SRTCP, RFC 3711).
 */
import { randomBytes } from 'node:crypto';
import type { RemoteInfo } from 'node:dgram';
import type { Logger } from '../../observability/logger.js';
import { estimateQuality, round } from './e-model.js';
import { RtcpReception } from './rtcp-reception.js';
import {
  MAX_RTCP_COMPOUND_BYTES,
  ntpFromUnixMs,
  ntpMiddle32,
  parseRtcp,
  roundTripMs,
  writeRtcp,
  type ReportBlock,
  type RtcpPacket,
} from './rtcp-packet.js';
import {
  RTCP_TRANSFORM_ROOM,
  type RtcpRemote,
  type RtcpSource,
  type RtcpStats,
  type RtcpTransform,
} from './rtcp-types.js';
import type { RtpSocket } from './socket.js';

export { RTCP_TRANSFORM_ROOM } from './rtcp-types.js';
export type { RtcpRemote, RtcpSource, RtcpStats, RtcpTransform } from './rtcp-types.js';

export interface RtcpSessionOptions {
  readonly socket: RtpSocket;
  readonly source: RtcpSource;
  readonly remote: RtcpRemote;
  /** Mean report interval (RFC 3550 §6.2: 5 s minimum); default 5000. */
  readonly intervalMs?: number;
  /** [0, 1) (injected for tests); default Math.random. */
  readonly random?: () => number;
  readonly transform?: RtcpTransform;
  /** Codec impairments for the E-model (see e-model.ts). */
  readonly ie?: number;
  readonly bpl?: number;
  readonly logger?: Logger;
}

interface PeerView {
  block: ReportBlock;
  reports: number;
  ourPacketsSent: number;
}

export class RtcpSession {
  readonly #o: RtcpSessionOptions;
  #remote: RtcpRemote;
  #transform: RtcpTransform | undefined;
  readonly #reception = new RtcpReception();
  readonly #out = Buffer.alloc(MAX_RTCP_COMPOUND_BYTES + RTCP_TRANSFORM_ROOM);
  readonly #cname = `${randomBytes(9).toString('base64url')}@switchboard`;
  readonly #intervalMs: number;
  readonly #random: () => number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** RTCP source port as seen from the latched address (non-mux). */
  #seenAddress: string | undefined;
  #seenPort = 0;
  /** The last SR from the peer: its middle NTP bits and when it arrived (performance.now ms). */
  #lastSr: { ssrc: number; lsr: number; arrivedMs: number } | undefined;
  #sentAtReports: [number, number] = [0, 0];
  #peer: PeerView | undefined;
  #peerSrPackets: number | undefined;
  #rtt = { last: 0, sum: 0, max: 0, n: 0 };
  #counts = { sent: 0, received: 0, malformed: 0, foreign: 0, bye: false };
  #loggedMalformed = false;
  readonly #onMux = (msg: Buffer): void => {
    this.#receive(msg);
  };
  readonly #onRtcpPort = (msg: Buffer, rinfo: RemoteInfo): void => this.#onSeparate(msg, rinfo);

  constructor(options: RtcpSessionOptions) {
    this.#o = options;
    this.#remote = options.remote;
    this.#transform = options.transform;
    this.#intervalMs = Math.max(100, options.intervalMs ?? 5000);
    this.#random = options.random ?? Math.random;
    options.socket.setReceptionTap(this.#reception);
    options.socket.on('rtcp', this.#onMux);
    options.socket.rtcpSocket?.on('message', this.#onRtcpPort);
    this.#schedule(this.#intervalMs / 2);
  }

  /** A re-INVITE moved the media or (un)negotiated rtcp-mux. */
  updateRemote(remote: RtcpRemote): void {
    if (remote.rtpAddress !== this.#remote.rtpAddress) this.#seenAddress = undefined;
    this.#remote = remote;
  }

  /** SRTCP: set once keys are negotiated (undefined: plain RTCP). */
  setTransform(transform: RtcpTransform | undefined): void {
    this.#transform = transform;
  }

  /** Sends a last report with a BYE (§6.6) and stops. Idempotent; the RTP socket is closed by its owner. */
  close(reason?: string): void {
    if (this.#closed) return;
    this.#trySend(reason === undefined ? {} : { reason });
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const s = this.#o.socket;
    s.setReceptionTap(undefined);
    s.off('rtcp', this.#onMux);
    s.rtcpSocket?.off('message', this.#onRtcpPort);
  }

  stats(): RtcpStats {
    const r = this.#reception;
    const src = this.#o.source;
    const expected = r.packetsExpected;
    const lossFraction = expected > 0 ? r.packetsLost / expected : 0;
    const peer = this.#peer;
    const remoteLoss = peer === undefined ? 0 : peer.block.cumulativeLost / Math.max(1, peer.ourPacketsSent);
    const rtt = this.#rtt;
    const quality = estimateQuality({
      delayMs: (rtt.n > 0 ? rtt.last / 2 : 0) + src.receiveDelayMs,
      lossPercent: 100 * Math.max(lossFraction, Math.min(1, Math.max(0, remoteLoss))),
      ...(this.#o.ie === undefined ? {} : { ie: this.#o.ie }),
      ...(this.#o.bpl === undefined ? {} : { bpl: this.#o.bpl }),
    });
    const c = this.#counts;
    return {
      mux: this.#remote.mux,
      reportsSent: c.sent,
      reportsReceived: c.received,
      malformed: c.malformed,
      foreignDropped: c.foreign,
      byeReceived: c.bye,
      inbound: {
        packetsExpected: expected,
        packetsLost: r.packetsLost,
        lossFraction: round(lossFraction, 4),
        jitterMs: round(src.receptionJitterMs, 2),
      },
      ...(peer === undefined
        ? {}
        : {
            remote: {
              reports: peer.reports,
              fractionLost: round(peer.block.fractionLost / 256, 4),
              cumulativeLost: peer.block.cumulativeLost,
              jitterMs: round((peer.block.jitter * 1000) / src.clockRateHz, 2),
              ...(this.#peerSrPackets === undefined ? {} : { packetsSent: this.#peerSrPackets }),
            },
          }),
      ...(rtt.n === 0
        ? {}
        : {
            rtt: {
              lastMs: round(rtt.last, 2),
              avgMs: round(rtt.sum / rtt.n, 2),
              maxMs: round(rtt.max, 2),
              samples: rtt.n,
            },
          }),
      rFactor: quality.rFactor,
      mos: quality.mos,
    };
  }

  #schedule(meanMs: number): void {
    if (this.#closed) return;
    // §6.3.1: randomised to [0.5, 1.5] × the interval so reports of many calls do not synchronise.
    this.#timer = setTimeout(() => this.#tick(), meanMs * (0.5 + this.#random()));
    this.#timer.unref();
  }

  #tick(): void {
    this.#trySend(undefined);
    this.#schedule(this.#intervalMs);
  }

  /** A report that cannot be built or protected (a transform error) is skipped: never a crash in a timer. */
  #trySend(bye: { reason?: string } | undefined): void {
    try {
      this.#send(bye);
    } catch (err) {
      this.#o.logger?.warn({ err }, 'rtcp report not sent');
    }
  }

  #send(bye: { reason?: string } | undefined): void {
    if (this.#closed) return;
    const src = this.#o.source;
    const sent = src.packetsSent;
    // §6.4: an SR when we sent RTP since the report before the previous one.
    const weSent = sent !== this.#sentAtReports[0];
    this.#sentAtReports = [this.#sentAtReports[1], sent];
    const nowUnixMs = performance.timeOrigin + performance.now();
    const ntp = ntpFromUnixMs(nowUnixMs);
    const reports: ReportBlock[] = [];
    if (this.#reception.started) {
      const r = this.#reception.report();
      const sr = this.#lastSr;
      const fromSource = sr !== undefined && sr.ssrc === this.#reception.ssrc;
      reports.push({
        ssrc: this.#reception.ssrc,
        ...r,
        jitter: Math.round((src.receptionJitterMs * src.clockRateHz) / 1000),
        lsr: fromSource ? sr.lsr : 0,
        dlsr: fromSource ? Math.round(((performance.now() - sr.arrivedMs) / 1000) * 65536) : 0,
      });
    }
    let length = writeRtcp(this.#out, {
      ssrc: src.ssrc,
      ...(weSent
        ? {
            sender: {
              ntpSeconds: ntp.seconds,
              ntpFraction: ntp.fraction,
              rtpTimestamp: src.rtpTimestampNow(),
              packetCount: sent,
              octetCount: src.payloadOctetsSent,
            },
          }
        : {}),
      reports,
      cname: this.#cname,
      ...(bye === undefined ? {} : { bye }),
    });
    if (this.#transform !== undefined) length = this.#transform.protect(this.#out, length);
    if (length <= 0 || !this.#transmit(length)) return;
    this.#counts.sent++;
  }

  #transmit(length: number): boolean {
    const s = this.#o.socket;
    const rtcpSocket = s.rtcpSocket;
    if (this.#remote.mux || rtcpSocket === undefined) return s.sendMuxed(this.#out, length);
    const to = this.#destination();
    if (to === undefined) return false;
    rtcpSocket.send(this.#out, 0, length, to.port, to.address, (err) => {
      if (err !== null) this.#o.logger?.debug({ err }, 'rtcp send failed');
    });
    return true;
  }

  #destination(): { address: string; port: number } | undefined {
    const rtp = this.#o.socket.remote;
    if (rtp === undefined) return undefined;
    if (this.#seenAddress === rtp.address && this.#seenPort > 0)
      return { address: rtp.address, port: this.#seenPort };
    const r = this.#remote;
    // NAT moved the RTP stream away from the SDP address or port: its RTCP is most likely one port up.
    if (rtp.address !== r.rtpAddress || rtp.port !== r.rtpPort)
      return { address: rtp.address, port: rtp.port + 1 };
    const named = r.rtcpAddress !== undefined && r.rtcpAddress !== '0.0.0.0' && r.rtcpAddress !== '::';
    return { address: named ? (r.rtcpAddress ?? rtp.address) : rtp.address, port: r.rtcpPort };
  }

  /** A datagram on port + 1: only from the address RTP is latched to (RTCP shares the RTP latch). */
  #onSeparate(msg: Buffer, rinfo: RemoteInfo): void {
    const s = this.#o.socket;
    if (!s.latched || rinfo.address !== s.remote?.address) {
      this.#counts.foreign++;
      return;
    }
    if (this.#receive(msg)) {
      this.#seenAddress = rinfo.address;
      this.#seenPort = rinfo.port;
    }
  }

  /** Returns true when the datagram was a valid compound. */
  #receive(msg: Buffer): boolean {
    if (this.#closed) return false;
    let length = msg.length;
    try {
      if (this.#transform !== undefined) length = this.#transform.unprotect(msg, length);
    } catch {
      length = -1; // a transform that throws on peer bytes refuses them like one returning -1
    }
    const parsed =
      length < 0 ? ({ ok: false, reason: 'transform refused' } as const) : parseRtcp(msg, length);
    if (!parsed.ok) {
      this.#counts.malformed++;
      if (!this.#loggedMalformed) {
        this.#loggedMalformed = true;
        this.#o.logger?.debug({ reason: parsed.reason, bytes: msg.length }, 'rtcp datagram dropped');
      }
      return false;
    }
    this.#counts.received++;
    for (const p of parsed.packets) this.#onPacket(p);
    return true;
  }

  #onPacket(p: RtcpPacket): void {
    if (p.type === 'sr') {
      this.#lastSr = {
        ssrc: p.ssrc,
        lsr: ntpMiddle32(p.sender.ntpSeconds, p.sender.ntpFraction),
        arrivedMs: performance.now(),
      };
      this.#peerSrPackets = p.sender.packetCount;
    }
    if (p.type === 'sr' || p.type === 'rr') {
      const ours = p.reports.find((b) => b.ssrc === this.#o.source.ssrc >>> 0);
      if (ours !== undefined) this.#onBlock(ours);
    } else if (p.type === 'bye') {
      this.#counts.bye = true;
    }
  }

  #onBlock(block: ReportBlock): void {
    this.#peer = {
      block,
      reports: (this.#peer?.reports ?? 0) + 1,
      ourPacketsSent: this.#o.source.packetsSent,
    };
    const ntp = ntpFromUnixMs(performance.timeOrigin + performance.now());
    const rtt = roundTripMs(ntpMiddle32(ntp.seconds, ntp.fraction), block.lsr, block.dlsr);
    if (rtt === undefined) return;
    const r = this.#rtt;
    r.last = rtt;
    r.sum += rtt;
    r.max = Math.max(r.max, rtt);
    r.n++;
  }
}
