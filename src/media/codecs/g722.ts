/**
 * ITU-T G.722 at 64 kbit/s (mode 1): sub-band ADPCM of 16 kHz audio. A 24-tap QMF splits each pair of input
 * samples into a lower and a higher sub-band sample at 8 kHz; the lower band is coded with 6 bits (adaptive
 * 60-level quantizer), the higher with 2; one octet per pair, higher-band bits first (§1.4.4: IH in bits 7–6,
 * IL in bits 5–0). 20 ms = 320 samples ↔ 160 octets.
 *
 * Written from the Recommendation's block descriptions (§3 encoder, §4 decoder; tables in g722-tables.ts,
 * predictor and scale adaptation in g722-band.ts). PCM is 16-bit at the interface; the QMF output keeps one
 * bit more than the Recommendation's 14-bit uniform signal (the input's two lowest bits are not discarded),
 * which is what the widely used implementations do and what keeps their bitstreams identical to ours
 * (test/media/codecs/g722.test.ts checks against ffmpeg's encoder and decoder).
 *
 * Encoder and decoder state are per call and per direction: every octet depends on all earlier ones.
 * encode()/decode() allocate nothing; they work in the caller's buffers.
 *
 * RTP: payload type 9, clock 8000 although the audio is sampled at 16 kHz (RFC 3551 §4.5.2 keeps the
 * historical error), so timestamps advance 160 per 20 ms packet, one per octet.
 */
import type { Codec } from './codec.js';
import { G722Band, saturate16 } from './g722-band.js';
import { ILN, ILP, IHN, IHP, Q6, QM2, QM4, QM6, QMF_COEFFS, WH, WL } from './g722-tables.js';

/** Audio sampling rate of G.722. */
export const G722_SAMPLE_RATE_HZ = 16000;
/** RTP clock of G.722 (RFC 3551 §4.5.2). */
export const G722_CLOCK_RATE_HZ = 8000;
/** Static payload type (RFC 3551 Table 4). */
export const G722_PAYLOAD_TYPE = 9;

const QMF_TAPS = 24;
/** The full 24-tap QMF response, h(i) for i = 0 … 23 (symmetric). */
const H = Int32Array.from({ length: QMF_TAPS }, (_, i) => QMF_COEFFS[i < 12 ? i : 23 - i] as number);

const LOW_DET_INITIAL = 32;
const HIGH_DET_INITIAL = 8;

function lowBand(): G722Band {
  return new G722Band(LOW_DET_INITIAL, 8, 18432);
}

function highBand(): G722Band {
  return new G722Band(HIGH_DET_INITIAL, 10, 22528);
}

/** QUANTL (block 1L): the 6-bit code of the lower-band prediction error `el` for scale factor `det`. */
function quantizeLow(el: number, det: number): number {
  // The magnitude of a negative value is its one's complement, as in the Recommendation's 16-bit logic.
  const wd = el < 0 ? -(el + 1) : el;
  // The first interval MIL = 1 … 29 whose upper decision level exceeds WD, else 30. The levels grow with MIL,
  // so a binary search finds the same interval as the Recommendation's linear scan in 5 steps.
  let lo = 1;
  let hi = 30;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (wd < ((Q6[mid] as number) * det) >> 12) hi = mid;
    else lo = mid + 1;
  }
  return el < 0 ? (ILN[lo] as number) : (ILP[lo] as number);
}

/** QUANTH (block 1H): the 2-bit code of the higher-band prediction error. */
function quantizeHigh(eh: number, det: number): number {
  const wd = eh < 0 ? -(eh + 1) : eh;
  const mih = wd >= (564 * det) >> 12 ? 2 : 1;
  return eh < 0 ? (IHN[mih] as number) : (IHP[mih] as number);
}

/** The G.722 encoder of one stream. */
export class G722Encoder {
  /**
   * Transmit QMF delay line, written twice (at `#pos` and `#pos + 24`) so that the 24 newest samples are always
   * contiguous at `#x[#pos …]`, newest first, without shifting.
   */
  readonly #x = new Int32Array(2 * QMF_TAPS);
  #pos = 0;
  readonly #low = lowBand();
  readonly #high = highBand();

  /**
   * Encodes `pcm` (16 kHz; an odd last sample is ignored) into `out`; returns the octets written,
   * `min(floor(pcm.length / 2), out.length)`.
   */
  encode(pcm: Int16Array, out: Uint8Array): number {
    const n = Math.min(pcm.length >> 1, out.length);
    const x = this.#x;
    const low = this.#low;
    const high = this.#high;
    for (let k = 0; k < n; k++) {
      // Transmit QMF (§3.1): two samples in; XA over the even taps, XB over the odd ones.
      let p = this.#pos === 0 ? QMF_TAPS - 1 : this.#pos - 1;
      x[p] = x[p + QMF_TAPS] = pcm[2 * k] as number;
      p = p === 0 ? QMF_TAPS - 1 : p - 1;
      x[p] = x[p + QMF_TAPS] = pcm[2 * k + 1] as number;
      this.#pos = p;
      let xa = 0;
      let xb = 0;
      for (let i = 0; i < QMF_TAPS; i += 2) {
        xa += (H[i] as number) * (x[p + i] as number);
        xb += (H[i + 1] as number) * (x[p + i + 1] as number);
      }
      const xl = (xa + xb) >> 14;
      const xh = (xa - xb) >> 14;

      // Lower sub-band (blocks 1L–4L): the predictor and scale factor follow the 4-bit truncated code.
      const il = quantizeLow(saturate16(xl - low.s), low.det);
      const ril = il >> 2;
      const dlt = (low.det * (QM4[ril] as number)) >> 15;
      low.adaptScale(WL[ril] as number);
      low.update(dlt);

      // Higher sub-band (blocks 1H–4H).
      const ih = quantizeHigh(saturate16(xh - high.s), high.det);
      const dh = (high.det * (QM2[ih] as number)) >> 15;
      high.adaptScale(WH[ih] as number);
      high.update(dh);

      out[k] = (ih << 6) | il;
    }
    return n;
  }

  reset(): void {
    this.#x.fill(0);
    this.#pos = 0;
    this.#low.reset(LOW_DET_INITIAL);
    this.#high.reset(HIGH_DET_INITIAL);
  }
}

/** The G.722 mode 1 decoder of one stream. */
export class G722Decoder {
  /** Receive QMF delay lines of XD = RL − RH and XS = RL + RH, written twice like the encoder's. */
  readonly #xd = new Int32Array(QMF_TAPS);
  readonly #xs = new Int32Array(QMF_TAPS);
  #pos = 0;
  readonly #low = lowBand();
  readonly #high = highBand();

  /**
   * Decodes `codes` into `out` (16 kHz); returns the samples written, `2 × min(codes.length,
   * floor(out.length / 2))`.
   */
  decode(codes: Uint8Array, out: Int16Array): number {
    const n = Math.min(codes.length, out.length >> 1);
    const xd = this.#xd;
    const xs = this.#xs;
    const low = this.#low;
    const high = this.#high;
    for (let k = 0; k < n; k++) {
      const code = codes[k] as number;
      const il = code & 0x3f;
      const ih = code >> 6;

      // Lower sub-band: the output uses all 6 bits (INVQBL), the predictor the 4-bit code (INVQAL).
      const ril = il >> 2;
      const dl = (low.det * (QM6[il] as number)) >> 15;
      let rl = low.s + dl;
      if (rl > 16383) rl = 16383;
      else if (rl < -16384) rl = -16384;
      const dlt = (low.det * (QM4[ril] as number)) >> 15;
      low.adaptScale(WL[ril] as number);
      low.update(dlt);

      const dh = (high.det * (QM2[ih] as number)) >> 15;
      let rh = high.s + dh;
      if (rh > 16383) rh = 16383;
      else if (rh < -16384) rh = -16384;
      high.adaptScale(WH[ih] as number);
      high.update(dh);

      // Receive QMF (§4.4): two output samples from the difference and sum branches.
      const half = QMF_TAPS / 2;
      const p = this.#pos === 0 ? half - 1 : this.#pos - 1;
      this.#pos = p;
      xd[p] = xd[p + half] = rl - rh;
      xs[p] = xs[p + half] = rl + rh;
      let even = 0;
      let odd = 0;
      for (let i = 0; i < half; i++) {
        even += (H[2 * i] as number) * (xd[p + i] as number);
        odd += (H[2 * i + 1] as number) * (xs[p + i] as number);
      }
      out[2 * k] = saturate16(even >> 11);
      out[2 * k + 1] = saturate16(odd >> 11);
    }
    return 2 * n;
  }

  reset(): void {
    this.#xd.fill(0);
    this.#xs.fill(0);
    this.#pos = 0;
    this.#low.reset(LOW_DET_INITIAL);
    this.#high.reset(HIGH_DET_INITIAL);
  }
}

/** G.722 as a {@link Codec}: one encoder and one decoder, so one instance per call. */
export class G722Codec implements Codec {
  readonly payloadType: number;
  /** The two directions' state: every octet depends on all earlier ones of its stream. */
  readonly #encoder = new G722Encoder();
  readonly #decoder = new G722Decoder();
  readonly name = 'G722' as const;
  /** Wideband audio: 50–7000 Hz sampled at 16 kHz. */
  readonly sampleRateHz = G722_SAMPLE_RATE_HZ;
  /** RFC 3551 §4.5.2: the RTP clock says 8000, one tick per octet, half the audio rate. */
  readonly clockRateHz = G722_CLOCK_RATE_HZ;
  readonly channels = 1 as const;

  constructor(payloadType: number = G722_PAYLOAD_TYPE) {
    this.payloadType = payloadType;
  }

  /** 16 kHz PCM samples per packet: 320 for 20 ms (the RTP timestamp advances half of that). */
  frameSamples(ptimeMs: number): number {
    return Math.round((G722_SAMPLE_RATE_HZ * ptimeMs) / 1000);
  }

  /** One octet → two samples; output truncated to `out.length`. Every octet is a valid code. */
  decode(payload: Buffer, out: Int16Array): number {
    return this.#decoder.decode(payload, out);
  }

  /** Two samples → one octet; input truncated to what `out` holds. */
  encode(pcm: Int16Array, out: Buffer): number {
    return this.#encoder.encode(pcm, out);
  }
}
