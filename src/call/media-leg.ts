import type { EventEmitter } from 'node:events';
import type { Codec } from '../media/codecs/codec.js';
import type { NegotiatedCodec, RtcpAddress, TelephoneEventFormat } from '../sip/sdp.js';
import type { RtcpStats } from '../media/rtp/rtcp-session.js';
import type { SdesKeying } from '../sip/sdp-crypto.js';
import type { PausablePlayout } from './turns/interruption-policy.js';

export interface MediaLegEvents {
  /**
   * One frame of caller audio per ptime (the negotiated packet duration, 10–60 ms), in order, after the
   * jitter buffer (concealed frames included), whatever packet size the caller actually sends.
   */
  frame: [payload: Buffer];
  /** An RFC 4733 digit, reported once per event. */
  dtmf: [{ readonly digit: string; readonly durationMs: number }];
  /** The first RTP packet arrived and the remote source is latched (NAT). */
  latched: [{ readonly address: string; readonly port: number }];
  /** No RTP for the inactivity timeout. */
  inactive: [];
  /**
   * Once per ptime of media time (a 10 ms leg emits twice per 20 ms clock tick, a 30 ms leg on two ticks of
   * three), for recordings: the caller frame played out of the jitter buffer (undefined before the first
   * packet) and the frame sent on RTP in that slot (undefined when nothing was sent), both one ptime long.
   * Buffers are only valid during the call.
   */
  tick: [caller: Buffer | undefined, sent: Buffer | undefined];
  /**
   * The leg stopped on an internal error (it left the media clock and sends nothing more). Emitted once; the
   * call must end (BYE) and close the leg, never leave dead air.
   */
  failed: [error: Error];
}

export interface MediaLegStats {
  readonly packetsReceived: number;
  readonly packetsSent: number;
  readonly lost: number;
  readonly late: number;
  readonly malformed: number;
  readonly foreignDropped: number;
  /** Agent audio frames refused because the call had the maximum queued ahead of playout (issue 11). */
  readonly playoutOverflowFrames?: number;
  /** RTCP quality figures (RFC 3550 reports, RTT, E-model MOS) when RTCP is on. */
  readonly rtcp?: RtcpStats;
  /** The SRTP suite in effect (never the keys), absent for plain RTP. */
  readonly srtpSuite?: string;
  /** RTP datagrams SRTP refused (not delivered, never latched). */
  readonly srtpRejected?: number;
  /** SRTP and SRTCP refusals by reason: failed authentication, replayed or too old, malformed, key used up. */
  readonly srtpRefusals?: {
    readonly authFailed: number;
    readonly replayed: number;
    readonly malformed: number;
    readonly keyExpired: number;
  };
}

/** Counts agent audio frames refused because the call had the maximum queued (issue 11). */
export interface OverflowCounter {
  inc(frames: number): void;
}

/** The outbound queue as the call sees it. */
export interface CallPlayout extends PausablePlayout {
  /** Queues one frame of one ptime; false when refused (blocked response, or the per-call cap reached). */
  enqueue(frame: Buffer, itemId: string, responseId: string): boolean;
  /** Frames that still fit under the per-call cap of audio ahead of playout (issue 11). */
  readonly roomFrames: number;
  /** Counts frames a producer dropped because there was no room (logged once, counted in stats). */
  refuse(frames: number): void;
  /** Resolves when nothing is queued (now, if already empty). */
  whenDrained(): Promise<void>;
  /** The first frame of an item was sent on RTP (PlayoutStream's event). */
  on(
    event: 'itemStarted',
    listener: (item: { readonly itemId: string; readonly responseId: string }) => void,
  ): unknown;
  off(
    event: 'itemStarted',
    listener: (item: { readonly itemId: string; readonly responseId: string }) => void,
  ): unknown;
}

/**
 * One call's RTP leg: socket from the port pool, jitter buffer, decoder-side framing, playout on the shared
 * ticker, RFC 4733 in and out. Built from media/ parts by the call layer (media/ knows nothing of calls).
 */
export interface MediaLeg extends EventEmitter<MediaLegEvents> {
  readonly codec: Codec;
  readonly ptimeMs: number;
  readonly localPort: number;
  readonly playout: CallPlayout;
  /** Whether the first packet has been latched. */
  readonly latched: boolean;
  /** How long a caller frame waits in the jitter buffer before it is played out (its target depth), ms. */
  readonly jitterDelayMs?: number;
  /** Send digits as RFC 4733 events (or resolve at once when the peer did not offer telephone-event). */
  sendDtmf(digits: string): Promise<void>;
  /**
   * New remote address from a re-INVITE; `hold` stops sending (a=sendonly/inactive, c=0.0.0.0); `rtcp`:
   * the new SDP's RTCP address (RFC 3605 / rtcp-mux).
   */
  updateRemote(
    remote: { readonly address: string; readonly port: number },
    hold: boolean,
    rtcp?: RtcpAddress,
  ): void;
  /**
   * A re-offer switched the audio format on the wire (RFC 3264 §8.3.2); `codec` above stays the call's and
   * the leg converts. Absent: the leg cannot switch (re-offers must keep the call codec). Throws when the
   * format cannot be built, leaving the leg as it was.
   */
  setWireFormat?(codec: NegotiatedCodec, telephoneEvent: TelephoneEventFormat | undefined): void;
  /** New SDES keys from a re-offer (RFC 4568 §7.1.4); legs without SRTP support leave it out. */
  setSrtp?(keying: SdesKeying | undefined): void;
  stats(): MediaLegStats;
  /** Releases the RTP port. Idempotent. */
  close(): void;
}
