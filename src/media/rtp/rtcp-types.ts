/** The contracts of RtcpSession (rtcp-session.ts): what it is given and what it reports. */

/** SRTCP (or any other) transform of whole compounds, in place. */
export interface RtcpTransform {
  /** Protects `buf[0, length)`; returns the new length (the buffer has {@link RTCP_TRANSFORM_ROOM} spare). */
  protect(buf: Buffer, length: number): number;
  /** Unprotects `buf[0, length)` in place; returns the plain length, or -1 to drop the datagram. */
  unprotect(buf: Buffer, length: number): number;
}

/** Spare bytes after the largest compound for a transform's trailer (SRTCP index + tag + MKI). */
export const RTCP_TRANSFORM_ROOM = 64;

/** What the RTP sender side tells RTCP, read when a report is built (never per packet). */
export interface RtcpSource {
  /** Our outgoing SSRC (it may change: a wire format on another clock). */
  readonly ssrc: number;
  /** RTP clock rate of the wire format, Hz. */
  readonly clockRateHz: number;
  /** The RTP timestamp of "now" on our stream (SR, §6.4.1). */
  rtpTimestampNow(): number;
  readonly packetsSent: number;
  /** RTP payload octets sent (§6.4.1 sender's octet count: no headers). */
  readonly payloadOctetsSent: number;
  /** §A.8 interarrival jitter of the stream we receive, in ms (the jitter buffer's estimate). */
  readonly receptionJitterMs: number;
  /** Our receive-side delay for the E-model: packetization + jitter-buffer depth, ms. */
  readonly receiveDelayMs: number;
}

/** Where the peer wants RTCP, from its SDP. */
export interface RtcpRemote {
  /** rtcp-mux offered and answered (RFC 5761). */
  readonly mux: boolean;
  /** The RTP address and port of the SDP. */
  readonly rtpAddress: string;
  readonly rtpPort: number;
  /** `a=rtcp:` (RFC 3605) or the RTP port + 1. */
  readonly rtcpPort: number;
  /** `a=rtcp:` address when it names one. */
  readonly rtcpAddress?: string;
}

/** Per-call RTCP figures (call summary, recording metadata, /metrics). */
export interface RtcpStats {
  readonly mux: boolean;
  readonly reportsSent: number;
  /** Compounds from the peer that parsed. */
  readonly reportsReceived: number;
  /** Datagrams refused by the RFC 3550 §A.2 checks, or by the transform. */
  readonly malformed: number;
  /** RTCP from a source other than the latched one (dropped). */
  readonly foreignDropped: number;
  readonly byeReceived: boolean;
  /** What we received (our own reception statistics). */
  readonly inbound: {
    readonly packetsExpected: number;
    readonly packetsLost: number;
    readonly lossFraction: number;
    readonly jitterMs: number;
  };
  /** The peer's view of our stream, from its last report block about our SSRC. */
  readonly remote?: {
    readonly reports: number;
    readonly fractionLost: number;
    readonly cumulativeLost: number;
    readonly jitterMs: number;
    /** From the peer's last SR: what it says it sent. */
    readonly packetsSent?: number;
  };
  /** Round trip from LSR/DLSR (§6.4.1), ms. */
  readonly rtt?: {
    readonly lastMs: number;
    readonly avgMs: number;
    readonly maxMs: number;
    readonly samples: number;
  };
  readonly rFactor: number;
  readonly mos: number;
}
