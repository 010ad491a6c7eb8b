/**
 * The codec on the wire of a running RTP leg, which a re-offer may change (RFC 3264 §8.3.2: an answer may
 * name another format than before, and the media then switches to it). The call keeps its own codec — the
 * one the INVITE settled: the agent's audio formats, the recorder, bridges and prompts were built for it —
 * and the leg converts at the RTP boundary: caller packets of the new format are re-encoded into the call
 * codec before the jitter buffer, and the call's frames are re-encoded into the new format as they are sent.
 * Same codec, other payload type number: only the number changes.
 *
 * Not supported: switching a call whose own codec is Opus to G.711 or G.722 (its jitter buffer takes one Opus packet
 * per frame, and G.711 packets of any size would have to be re-framed into Opus frames first), and Opus
 * at a ptime Opus has no frame for (30/50 ms). Such offers are answered 488 and leave the call as it was.
 */
import type { Codec } from '../media/codecs/codec.js';
import { createCodec } from '../media/codecs/index.js';
import { Resampler } from '../media/dsp/resampler.js';
import type { JitterPacket } from '../media/rtp/jitter-buffer.js';
import type { RtpPacket } from '../media/rtp/packet.js';
import type { CodecName, NegotiatedCodec } from '../sip/sdp.js';

/** RFC 6716 §2.1.4 frame durations at or above 10 ms: the packet durations an Opus wire can carry here. */
const OPUS_PTIMES_MS: readonly number[] = [10, 20, 40, 60];
/** The longest packet converted (RFC 7587 allows 120 ms of Opus in one packet). */
const MAX_PACKET_MS = 120;
const MAX_OPUS_PACKET_BYTES = 1275;

/** The codecs a leg whose call codec is `call`, sending `ptimeMs` packets, can switch its wire to. */
export function switchableCodecs(call: CodecName, ptimeMs: number): CodecName[] {
  if (call === 'opus') return ['opus'];
  // G.711 and G.722 share the 8000 Hz RTP clock and are octet-framed: any of them to any other.
  return OPUS_PTIMES_MS.includes(ptimeMs) ? ['PCMU', 'PCMA', 'G722', 'opus'] : ['PCMU', 'PCMA', 'G722'];
}

/** A packet of the wire format as the leg writes it (a reused object: valid until the next call). */
/** One frame of silence in `codec` (G.711 by its byte value; others encoded from zeros). */
export function encodedSilence(codec: Codec, frameSamples: number): Buffer {
  if (codec.name === 'PCMU') return Buffer.alloc(frameSamples, 0xff);
  if (codec.name === 'PCMA') return Buffer.alloc(frameSamples, 0xd5);
  const out = Buffer.alloc(1500);
  const n = codec.encode(new Int16Array(frameSamples), out);
  return out.subarray(0, n);
}

/** The audio format on a leg's wire: the call codec itself, or another one through a transcoder. */
export interface WirePath {
  readonly payloadType: number;
  readonly name: NegotiatedCodec['name'];
  readonly transcoder?: WireTranscoder;
}

export interface WirePacket {
  payload: Buffer;
  payloadType: number;
  timestamp: number;
}

/** Maps RTP timestamps between two clocks, anchored on the first one seen (signed deltas: reorder works). */
class TimestampMap {
  readonly #ratio: number;
  #from = 0;
  #to: number;
  #anchored = false;

  constructor(fromClockHz: number, toClockHz: number, toStart: number) {
    this.#ratio = toClockHz / fromClockHz;
    this.#to = toStart >>> 0;
  }

  map(timestamp: number): number {
    let delta = (timestamp - this.#from) | 0;
    // Re-anchor well before the signed delta could wrap (about 12 h of 48 kHz media).
    if (!this.#anchored || Math.abs(delta) > 0x4000_0000) {
      if (this.#anchored) this.#to = (this.#to + Math.floor(delta * this.#ratio)) >>> 0;
      this.#from = timestamp >>> 0;
      this.#anchored = true;
      delta = 0;
    }
    return (this.#to + Math.floor(delta * this.#ratio)) >>> 0;
  }
}

/**
 * Decode → resample → encode between the call codec and a wire codec, both ways, into preallocated
 * buffers (no allocation per packet beyond what the Opus binding does itself). Inbound packets may be of any
 * duration the codec allows; outbound frames are one leg ptime each.
 */
export class WireTranscoder {
  readonly payloadType: number;
  readonly clockRateHz: number;
  readonly name: CodecName;
  readonly #wire: Codec;
  readonly #call: Codec;
  readonly #inResampler: Resampler | undefined;
  readonly #outResampler: Resampler | undefined;
  readonly #wirePcm: Int16Array;
  readonly #callPcm: Int16Array;
  readonly #inPayload: Buffer;
  readonly #outPayload: Buffer;
  readonly #inPacket: {
    buffer: Buffer;
    payloadOffset: number;
    payloadLength: number;
    sequence: number;
    timestamp: number;
    ssrc: number;
    marker: boolean;
  };
  readonly #out: WirePacket;
  readonly #inTimestamps: TimestampMap | undefined;
  readonly #outTimestamps: TimestampMap | undefined;

  /** `outTimestampStart`: the wire's first RTP timestamp when its clock differs from the call's. */
  constructor(call: Codec, wire: NegotiatedCodec, outTimestampStart: number) {
    this.name = wire.name;
    this.payloadType = wire.payloadType;
    this.clockRateHz = wire.clockRateHz;
    this.#wire = createCodec(wire.name, wire.payloadType);
    this.#call = createCodec(call.name, call.payloadType);
    const wireRate = this.#wire.sampleRateHz;
    const callRate = this.#call.sampleRateHz;
    this.#wirePcm = new Int16Array((wireRate * MAX_PACKET_MS) / 1000);
    this.#callPcm = new Int16Array((callRate * MAX_PACKET_MS) / 1000);
    if (wireRate !== callRate) {
      this.#inResampler = new Resampler(wireRate, callRate);
      this.#outResampler = new Resampler(callRate, wireRate);
    }
    this.#inPayload = Buffer.alloc(this.#callPcm.length * 2);
    this.#outPayload = Buffer.alloc(Math.max(MAX_OPUS_PACKET_BYTES, this.#wirePcm.length * 2));
    this.#inPacket = {
      buffer: this.#inPayload,
      payloadOffset: 0,
      payloadLength: 0,
      sequence: 0,
      timestamp: 0,
      ssrc: 0,
      marker: false,
    };
    this.#out = { payload: this.#outPayload, payloadType: this.payloadType, timestamp: 0 };
    if (this.#wire.clockRateHz !== this.#call.clockRateHz) {
      this.#inTimestamps = new TimestampMap(this.#wire.clockRateHz, this.#call.clockRateHz, 0);
      this.#outTimestamps = new TimestampMap(
        this.#call.clockRateHz,
        this.#wire.clockRateHz,
        outTimestampStart,
      );
    }
  }

  /** Whether the wire runs on another RTP clock than the call codec (the leg then uses a new SSRC). */
  get clockChanged(): boolean {
    return this.#outTimestamps !== undefined;
  }

  /** A caller packet of the wire format as a call-codec packet for the jitter buffer (undefined: no audio). */
  toCall(packet: RtpPacket): JitterPacket | undefined {
    const payload = packet.buffer.subarray(packet.payloadOffset, packet.payloadOffset + packet.payloadLength);
    let pcm = this.#wirePcm.subarray(0, this.#wire.decode(payload, this.#wirePcm));
    if (this.#inResampler !== undefined) {
      pcm = this.#callPcm.subarray(0, this.#inResampler.process(pcm, this.#callPcm));
    }
    if (pcm.length === 0) return undefined;
    const p = this.#inPacket;
    p.payloadLength = this.#call.encode(pcm, this.#inPayload);
    p.sequence = packet.sequence;
    p.timestamp =
      this.#inTimestamps === undefined ? packet.timestamp : this.#inTimestamps.map(packet.timestamp);
    p.ssrc = packet.ssrc;
    p.marker = packet.marker;
    return p.payloadLength === 0 ? undefined : p;
  }

  /** One call-codec frame (stamped on the call's clock) as a wire packet; undefined when it cannot be encoded. */
  toWire(frame: Buffer, timestamp: number): WirePacket | undefined {
    let pcm = this.#callPcm.subarray(0, this.#call.decode(frame, this.#callPcm));
    if (this.#outResampler !== undefined) {
      pcm = this.#wirePcm.subarray(0, this.#outResampler.process(pcm, this.#wirePcm));
    }
    const bytes = pcm.length === 0 ? 0 : this.#wire.encode(pcm, this.#outPayload);
    if (bytes === 0) return undefined;
    this.#out.payload = this.#outPayload.subarray(0, bytes);
    this.#out.timestamp = this.wireTimestamp(timestamp);
    return this.#out;
  }

  /** A call-clock RTP timestamp on the wire's clock (RFC 4733 events go on the audio's timeline). */
  wireTimestamp(timestamp: number): number {
    return this.#outTimestamps === undefined ? timestamp : this.#outTimestamps.map(timestamp);
  }

  close(): void {
    this.#wire.close?.();
    this.#call.close?.();
  }
}
