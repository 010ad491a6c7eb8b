/**
 * The RTCP side of an RTP leg: builds the media layer's {@link RtcpSession} from what the leg knows (its
 * SSRC, wire clock, packets sent, the jitter buffer's estimates) and the SDP's RTCP address.
 */
import type { CallQuality } from '../http/ports.js';
import type { Logger } from '../observability/logger.js';
import type { JitterBuffer } from '../media/rtp/jitter-buffer.js';
import { RTP_HEADER_BYTES } from '../media/rtp/packet.js';
import {
  RtcpSession,
  type RtcpRemote,
  type RtcpStats,
  type RtcpTransform,
} from '../media/rtp/rtcp-session.js';
import type { RtpSocket } from '../media/rtp/socket.js';
import type { NegotiatedMedia, RtcpAddress } from '../sip/sdp.js';

/** RTCP settings of a leg (config: RTCP, RTCP_INTERVAL_MS). */
export type { RtcpSession } from '../media/rtp/rtcp-session.js';

export interface LegRtcpOptions {
  readonly intervalMs?: number;
  /** SRTCP; also settable later with RtcpSession.setTransform. */
  readonly transform?: RtcpTransform;
}

/** What the leg lends RTCP, read only when a report is built. */
export interface LegRtcpParts {
  readonly socket: RtpSocket;
  readonly jitter: JitterBuffer;
  readonly ptimeMs: number;
  readonly ssrc: () => number;
  readonly clockRateHz: () => number;
  /** The wire RTP timestamp of the slot being played now. */
  readonly timestampNow: () => number;
  readonly logger: Logger;
}

/** The RTCP remote of an SDP's RTP address and (optional) RTCP address: no a=rtcp → port + 1. */
export function rtcpRemote(
  remote: { readonly address: string; readonly port: number },
  rtcp: RtcpAddress | undefined,
): RtcpRemote {
  return {
    mux: rtcp?.mux ?? false,
    rtpAddress: remote.address,
    rtpPort: remote.port,
    rtcpPort: rtcp?.mux === true ? remote.port : (rtcp?.port ?? remote.port + 1),
    ...(rtcp?.address === undefined ? {} : { rtcpAddress: rtcp.address }),
  };
}

/** The leg's RTCP session for the negotiated `media`; undefined when `options` is (RTCP off). */
export function startLegRtcp(
  options: LegRtcpOptions | undefined,
  media: NegotiatedMedia,
  parts: LegRtcpParts,
): RtcpSession | undefined {
  if (options === undefined) return undefined;
  const { socket, jitter } = parts;
  return new RtcpSession({
    socket,
    remote: rtcpRemote(media.remote, media.rtcp),
    source: {
      get ssrc() {
        return parts.ssrc();
      },
      get clockRateHz() {
        return parts.clockRateHz();
      },
      rtpTimestampNow: parts.timestampNow,
      get packetsSent() {
        return socket.counters.packetsSent;
      },
      // Every packet the leg writes has the 12-byte fixed header only (packet.ts writeRtpHeader).
      get payloadOctetsSent() {
        return socket.counters.plainBytesSent - RTP_HEADER_BYTES * socket.counters.packetsSent;
      },
      get receptionJitterMs() {
        return jitter.stats().jitterMs;
      },
      get receiveDelayMs() {
        // The adaptive target, not the instantaneous fill: a burst in flight is not a steady delay.
        return parts.ptimeMs + jitter.stats().targetDepthMs;
      },
    },
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
    ...(options.transform === undefined ? {} : { transform: options.transform }),
    logger: parts.logger,
  });
}

/** The API's view of a leg's RTCP figures (CallSummary.quality). */
export function callQuality(rtcp: RtcpStats): CallQuality {
  return {
    jitterMs: rtcp.inbound.jitterMs,
    lossFraction: rtcp.inbound.lossFraction,
    ...(rtcp.remote === undefined ? {} : { remoteLossFraction: rtcp.remote.fractionLost }),
    ...(rtcp.rtt === undefined ? {} : { rttMs: rtcp.rtt.lastMs }),
    rFactor: rtcp.rFactor,
    mos: rtcp.mos,
    reportsSent: rtcp.reportsSent,
    reportsReceived: rtcp.reportsReceived,
  };
}
