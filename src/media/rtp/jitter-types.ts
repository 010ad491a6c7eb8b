/**
 * The jitter buffer's contract: what push() takes and returns, what pop() yields, options and counters.
 * The behaviour is described in jitter-buffer.ts.
 */

/** The packet fields the buffer needs; the RtpPacket of packet.ts satisfies it. */
export interface JitterPacket {
  readonly buffer: Buffer;
  readonly payloadOffset: number;
  readonly payloadLength: number;
  readonly sequence: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly marker: boolean;
}

/**
 * `stale`: a packet of the SSRC the stream switched away from; `no-payload`: nothing to play (an empty
 * RFC 6263 keepalive, or less than one timestamp unit of audio).
 */
export type JitterPushResult =
  'accepted' | 'duplicate' | 'late' | 'oversize' | 'out-of-range' | 'stale' | 'no-payload';

/**
 * What pop() produced: `frame` (payload valid), `lost` (a gap or an inserted frame: conceal), `empty` (the
 * buffer ran dry: underrun, silence suppression or end of stream; conceal or play silence), `idle` (no
 * stream yet, or before its first frame: play nothing or silence).
 */
export type JitterFrameKind = 'frame' | 'lost' | 'empty' | 'idle';

/** The reused result of pop(). `payload` is a view into the slot ring: valid until the next push(). */
export interface JitterFrame {
  kind: JitterFrameKind;
  payload: Buffer;
  payloadLength: number;
  sequence: number;
  timestamp: number;
  marker: boolean;
}

export interface JitterBufferStats {
  /** Every packet pushed, duplicates and late ones included. */
  received: number;
  /** RFC 3550 §A.3 cumulative loss: expected minus received, from sequence numbers. */
  lost: number;
  /** Arrived after their frame was played (dropped). */
  late: number;
  duplicate: number;
  /** Arrived with a sequence number older than one already received, in time to be played. */
  reordered: number;
  /** pop() results of kind `lost` (gaps and inserted frames) the caller had to conceal. */
  concealed: number;
  /** pop() results of kind `empty` after the stream started. */
  underruns: number;
  /** Frames inserted to grow the depth / skipped to shrink it. */
  inserted: number;
  skipped: number;
  ssrcChanges: number;
  resyncs: number;
  oversize: number;
  outOfRange: number;
  /** Packets of the previous SSRC after an SSRC change (dropped). */
  stale: number;
  /** Frames played with part of them missing (sample mode: the part that never came is silence). */
  partial: number;
  /** Packets with an empty payload. */
  noPayload: number;
  /** Frames buffered ahead of the playout point, in ms. */
  depthMs: number;
  targetDepthMs: number;
  /** RFC 3550 §A.8 interarrival jitter estimate, in ms. */
  jitterMs: number;
}

export interface JitterBufferOptions {
  /** RTP timestamp units per frame: 160 for 8 kHz at 20 ms, 960 for Opus at 20 ms. */
  readonly frameSamples: number;
  /** Frame duration (ptime) = pop() period. Default 20. */
  readonly frameDurationMs?: number;
  /** Default 20. */
  readonly minDepthMs?: number;
  /** Default 120. */
  readonly maxDepthMs?: number;
  /** Target depth before any jitter has been observed. Default 40. */
  readonly initialDepthMs?: number;
  /**
   * Bytes per RTP timestamp unit when the payload is a plain sample stream that can be cut anywhere: 1 for
   * G.711 and G.722 (RFC 3551 §4.5.2: its RTP clock is 8000 Hz for 16 kHz audio), 2 for L16 mono. Packets
   * of any duration are then cut into frames of `frameSamples`. Unset (packet mode, e.g. Opus): each packet
   * is one frame, placed at the nearest frame boundary.
   */
  readonly bytesPerTimestampUnit?: number;
  /** Sample mode: the byte a frame part that never arrived is left at (the codec's silence). Default 0. */
  readonly fillByte?: number;
  /** Largest payload kept; larger packets are dropped. Default 1500. */
  readonly maxPayloadBytes?: number;
  /** Pops per shrink decision. Default 50 (1 s at 20 ms). */
  readonly adaptWindowFrames?: number;
  /**
   * Which buffered frames the shrink may drop unheard (it never drops speech). Default: a level test for
   * G.711 in sample mode, told by the fill byte (jitter-silence.ts); for other codecs only the empty frames
   * between talkspurts.
   */
  readonly silentFrame?: (payload: Buffer, payloadLength: number) => boolean;
  /** Monotonic clock in ms for arrival times. Default performance.now. */
  readonly nowMs?: () => number;
}

/** The counters of {@link JitterBufferStats} that the buffer keeps itself, all zero. */
export function newJitterCounters(): Omit<
  JitterBufferStats,
  'lost' | 'depthMs' | 'targetDepthMs' | 'jitterMs'
> {
  return {
    received: 0,
    late: 0,
    duplicate: 0,
    reordered: 0,
    concealed: 0,
    underruns: 0,
    inserted: 0,
    skipped: 0,
    ssrcChanges: 0,
    resyncs: 0,
    oversize: 0,
    outOfRange: 0,
    stale: 0,
    partial: 0,
    noPayload: 0,
  };
}
