/**
 * Opus (RFC 6716) over RTP (RFC 7587) through the native `@discordjs/opus` binding. One instance holds one
 * encoder and one decoder, so every call (and every leg of a call) needs its own instance: Opus frames are
 * predicted from the previous frame, and sharing state across streams corrupts both.
 *
 * Library behaviour this wrapper works around (measured with @discordjs/opus 0.10):
 * - `encode()` takes the frame size from the buffer length and aborts the process (not a JS exception) on
 *   an invalid size, so PCM is always copied into a scratch buffer of a valid Opus frame size first.
 * - `decode()` of an empty buffer runs packet-loss concealment for 120 ms (the binding passes its maximum
 *   frame size), which would put the decoder 100 ms ahead of the stream. PLC is therefore not offered:
 *   an empty payload decodes to 0 samples.
 * - A corrupt packet raises a catchable TypeError; it is counted, never rethrown in the hot path.
 * - Both directions return freshly allocated Buffers; that allocation is inside the binding and unavoidable.
 */
import opus from '@discordjs/opus';
import { SwitchboardError } from '../../errors.js';
import type { Codec } from './codec.js';

/** RFC 7587 §4.1: the RTP clock of Opus is always 48 kHz, whatever the internal audio bandwidth. */
const OPUS_RATE_HZ = 48000;
/** Opus frames are 2.5, 5, 10, 20, 40 or 60 ms (RFC 6716 §2.1.4); at 48 kHz that is these sample counts. */
const FRAME_SIZES = [120, 240, 480, 960, 1920, 2880] as const;
const MAX_FRAME_SAMPLES = 2880;
/** The binding decodes into a buffer of 120 ms (its MAX_FRAME_SIZE); a packet can carry that much. */
const MAX_DECODED_SAMPLES = 5760;

export interface OpusCodecOptions {
  /** Target bitrate; RFC 7587 §7.1 suggests 6–40 kb/s for fullband speech. Library default when unset. */
  bitrateBps?: number;
}

export class OpusCodec implements Codec {
  readonly name = 'opus' as const;
  readonly sampleRateHz = OPUS_RATE_HZ;
  readonly clockRateHz = OPUS_RATE_HZ;
  readonly channels = 1 as const;
  readonly payloadType: number;
  /** Packets that failed to decode (corrupt or truncated); each produced 0 samples. */
  corruptPackets = 0;
  /** Frames that could not be encoded (library error or `out` too small); each produced 0 bytes. */
  encodeErrors = 0;

  #native: opus.OpusEncoder | undefined;
  /** Scratch PCM for encode(), zero-padded up to a valid frame size; viewed as both bytes and samples. */
  readonly #encBytes = Buffer.alloc(MAX_FRAME_SAMPLES * 2);
  readonly #encSamples = new Int16Array(this.#encBytes.buffer, this.#encBytes.byteOffset, MAX_FRAME_SAMPLES);
  /** One byte view per valid frame size, created once so encode() allocates nothing itself. */
  readonly #encFrames: Buffer[];
  readonly #decBytes = Buffer.alloc(MAX_DECODED_SAMPLES * 2);
  readonly #decSamples = new Int16Array(
    this.#decBytes.buffer,
    this.#decBytes.byteOffset,
    MAX_DECODED_SAMPLES,
  );

  /** @param payloadType the dynamic payload type from the SDP `a=rtpmap:<pt> opus/48000/2` line. */
  constructor(payloadType: number, options: OpusCodecOptions = {}) {
    this.payloadType = payloadType;
    try {
      this.#native = new opus.OpusEncoder(OPUS_RATE_HZ, 1);
      if (options.bitrateBps !== undefined) this.#native.setBitrate(options.bitrateBps);
    } catch (cause) {
      throw new SwitchboardError('MEDIA_CODEC_UNSUPPORTED', 'cannot create the Opus encoder/decoder', {
        cause,
      });
    }
    this.#encFrames = FRAME_SIZES.map((n) => this.#encBytes.subarray(0, n * 2));
  }

  frameSamples(ptimeMs: number): number {
    return Math.round((OPUS_RATE_HZ * ptimeMs) / 1000);
  }

  /**
   * Decodes one Opus packet. Returns 0 for an empty or corrupt payload (counted in `corruptPackets` when
   * corrupt) or after close(). Samples beyond `out.length` are dropped.
   */
  decode(payload: Buffer, out: Int16Array): number {
    const native = this.#native;
    if (native === undefined || payload.length === 0) return 0;
    let decoded: Buffer;
    try {
      decoded = native.decode(payload);
    } catch {
      this.corruptPackets++;
      return 0;
    }
    // Copy through a preallocated platform-endian view (PCM from the binding is native-endian int16).
    const bytes = Math.min(decoded.length, this.#decBytes.length);
    decoded.copy(this.#decBytes, 0, 0, bytes);
    const n = Math.min(bytes >> 1, out.length);
    const src = this.#decSamples;
    for (let i = 0; i < n; i++) out[i] = src[i] as number;
    return n;
  }

  /**
   * Encodes one frame. `pcm` is zero-padded up to the next valid Opus frame size (normally exactly 960
   * samples for 20 ms) and truncated at 60 ms. Returns 0 on failure (counted in `encodeErrors`).
   */
  encode(pcm: Int16Array, out: Buffer): number {
    const native = this.#native;
    if (native === undefined) return 0;
    const samples = Math.min(pcm.length, MAX_FRAME_SAMPLES);
    let sizeIndex = 0;
    while ((FRAME_SIZES[sizeIndex] as number) < samples) sizeIndex++;
    const frameSamples = FRAME_SIZES[sizeIndex] as number;
    const scratch = this.#encSamples;
    for (let i = 0; i < samples; i++) scratch[i] = pcm[i] as number;
    scratch.fill(0, samples, frameSamples);
    let packet: Buffer;
    try {
      packet = native.encode(this.#encFrames[sizeIndex] as Buffer);
    } catch {
      this.encodeErrors++;
      return 0;
    }
    if (packet.length > out.length) {
      this.encodeErrors++;
      return 0;
    }
    return packet.copy(out, 0);
  }

  /** Drops the native state (freed by the binding's finalizer). Later calls return 0. */
  close(): void {
    this.#native = undefined;
  }
}
