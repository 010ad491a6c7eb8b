/**
 * The codec contract (DESIGN.md §3 "Media"). A Codec turns one RTP payload into PCM16 at `sampleRateHz` and back.
 * Stateless codecs (G.711) may be shared; stateful ones (Opus) must be created per call and per direction
 * pair, since encoder and decoder history is part of the bitstream.
 */

/** Encoding names as they appear in an SDP `a=rtpmap` line (RFC 4566 §6, RFC 3551 §6). */
export type CodecName = 'PCMU' | 'PCMA' | 'opus' | 'G722';

export interface Codec {
  readonly name: CodecName;
  /** Rate of the PCM this codec consumes and produces. */
  readonly sampleRateHz: number;
  /**
   * RTP timestamp clock: 8000 for G.711 (RFC 3551 §4.5.14), 48000 for Opus (RFC 7587 §4.1), and 8000 for G.722
   * although it samples at 16 kHz (RFC 3551 §4.5.2 keeps the historical error).
   */
  readonly clockRateHz: number;
  /** Only mono is negotiated on phone calls. */
  readonly channels: 1;
  /** RTP payload type negotiated for this call (static 0/8, or dynamic 96–127 for Opus). */
  readonly payloadType: number;
  /** PCM samples in one packet of `ptimeMs` milliseconds. */
  frameSamples(ptimeMs: number): number;
  /**
   * Decodes one RTP payload into `out` and returns the number of samples written. Never throws on corrupt
   * input: a payload that cannot be decoded yields 0 samples.
   */
  decode(payload: Buffer, out: Int16Array): number;
  /** Encodes `pcm` (one packet's worth) into `out` and returns the number of bytes written. */
  encode(pcm: Int16Array, out: Buffer): number;
  /** Releases native state (Opus). Idempotent. */
  close?(): void;
}
