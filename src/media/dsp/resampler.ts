/**
 * Streaming rational resampler (L/M polyphase FIR) for PCM16 mono: 8 ↔ 16 ↔ 24 ↔ 48 kHz and any other
 * pair of integer rates whose reduced ratio is small.
 *
 * Conceptually the input is upsampled by L (zero stuffing), low-pass filtered at the upsampled rate, and
 * downsampled by M. Only the outputs that survive the downsampling are computed, and only the taps that
 * meet a non-zero input: output n sits at upsampled time t = n·M, uses phase t mod L of the prototype
 * filter and the input samples ending at ⌊t / L⌋. Each phase holds K = N / L taps.
 *
 * The prototype is a windowed sinc with a Kaiser window (Kaiser & Schafer 1980; length and β from Kaiser's
 * empirical formulas, Oppenheim & Schafer §7.6). The stopband starts at the lower Nyquist frequency, so
 * nothing that would alias (downsampling) or image (upsampling) survives above it with more than
 * `stopbandDb` of gain; the passband ends at `passbandFraction` of that Nyquist (0.85 → 3.4 kHz at 8 kHz,
 * the edge of the ITU-T G.712 telephone channel).
 *
 * Streaming: the last K−1 input samples are kept between calls, and the output phase is carried as an
 * integer, so any split of the input into chunks produces bit-identical output. process() allocates
 * nothing; input longer than the internal block is processed block by block.
 */
import { SwitchboardError } from '../../errors.js';

export interface ResamplerOptions {
  /** Minimum stopband attenuation of the anti-alias filter, dB. Default 80. */
  stopbandDb?: number;
  /** Passband edge as a fraction of the lower rate's Nyquist frequency, 0 < f < 1. Default 0.85. */
  passbandFraction?: number;
}

const DEFAULT_STOPBAND_DB = 80;
const DEFAULT_PASSBAND_FRACTION = 0.85;
/** Input samples copied into the history buffer per inner block (≈ 21 ms at 48 kHz). */
const BLOCK_SAMPLES = 1024;
/** Guard against absurd ratios (e.g. 44099 → 48000) whose coefficient table would not fit in cache. */
const MAX_UP_FACTOR = 512;
const MAX_COEFFS = 1 << 20;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Zeroth-order modified Bessel function of the first kind, by its power series (converges fast for x < 20). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 64; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Kaiser's β for a given stopband attenuation in dB. */
function kaiserBeta(attenuationDb: number): number {
  if (attenuationDb > 50) return 0.1102 * (attenuationDb - 8.7);
  if (attenuationDb >= 21) return 0.5842 * (attenuationDb - 21) ** 0.4 + 0.07886 * (attenuationDb - 21);
  return 0;
}

/**
 * Designs the polyphase table: phase p (0 ≤ p < L) occupies `[p·K, (p+1)·K)`, stored time-reversed so the
 * inner loop is a forward dot product over the history buffer. Scaled by L so each phase has unity DC gain.
 */
function designPolyphase(
  up: number,
  upsampledRateHz: number,
  lowerRateHz: number,
  stopbandDb: number,
  passbandFraction: number,
): { coeffs: Float32Array; tapsPerPhase: number; length: number } {
  const nyquistHz = lowerRateHz / 2;
  const passHz = passbandFraction * nyquistHz;
  const transition = (2 * Math.PI * (nyquistHz - passHz)) / upsampledRateHz; // rad/sample
  const designLength = Math.ceil((stopbandDb - 7.95) / (2.285 * transition)) + 1;
  const tapsPerPhase = Math.max(1, Math.ceil(designLength / up));
  const length = tapsPerPhase * up;
  if (length > MAX_COEFFS) {
    throw new SwitchboardError('MEDIA_RESAMPLE_UNSUPPORTED', `resampling filter would need ${length} taps`);
  }
  // −6 dB point halfway through the transition band.
  const cutoff = (passHz + nyquistHz) / 2 / upsampledRateHz; // cycles/sample
  const beta = kaiserBeta(stopbandDb);
  const i0Beta = besselI0(beta);
  const centre = (length - 1) / 2;
  const h = new Float64Array(length);
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const x = i - centre;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const r = x / centre;
    const w = centre === 0 ? 1 : besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta;
    h[i] = sinc * w;
    sum += sinc * w;
  }
  const coeffs = new Float32Array(length);
  for (let p = 0; p < up; p++) {
    for (let j = 0; j < tapsPerPhase; j++) {
      // Tap k of phase p is h[p + k·L]; reversed: j = K−1−k.
      coeffs[p * tapsPerPhase + j] = ((h[p + (tapsPerPhase - 1 - j) * up] as number) * up) / sum;
    }
  }
  return { coeffs, tapsPerPhase, length };
}

/** Stateful streaming resampler for one mono PCM16 stream. Not thread-shared; one per direction per call. */
export class Resampler {
  readonly fromHz: number;
  readonly toHz: number;
  /** Interpolation factor L and decimation factor M (reduced). */
  readonly upFactor: number;
  readonly downFactor: number;
  /** Taps evaluated per output sample (K). 0 for the identity. */
  readonly tapsPerOutput: number;
  /** Group delay of the linear-phase filter, in output samples (may be fractional). */
  readonly delayOutputSamples: number;

  readonly #coeffs: Float32Array;
  /** K−1 samples of history followed by one block of input. */
  readonly #buf: Float32Array;
  /** Upsampled-time position of the next output relative to the start of the next block (0 ≤ t < M). */
  #t = 0;

  /** @throws SwitchboardError MEDIA_RESAMPLE_UNSUPPORTED for non-integer/non-positive rates or extreme ratios. */
  constructor(fromHz: number, toHz: number, options: ResamplerOptions = {}) {
    if (!Number.isInteger(fromHz) || !Number.isInteger(toHz) || fromHz <= 0 || toHz <= 0) {
      throw new SwitchboardError('MEDIA_RESAMPLE_UNSUPPORTED', `cannot resample ${fromHz} Hz → ${toHz} Hz`);
    }
    const stopbandDb = options.stopbandDb ?? DEFAULT_STOPBAND_DB;
    const passbandFraction = options.passbandFraction ?? DEFAULT_PASSBAND_FRACTION;
    if (!(passbandFraction > 0 && passbandFraction < 1) || !(stopbandDb >= 20 && stopbandDb <= 200)) {
      throw new SwitchboardError('MEDIA_RESAMPLE_UNSUPPORTED', 'invalid resampler filter options');
    }
    this.fromHz = fromHz;
    this.toHz = toHz;
    const g = gcd(fromHz, toHz);
    this.upFactor = toHz / g;
    this.downFactor = fromHz / g;
    if (this.upFactor > MAX_UP_FACTOR) {
      throw new SwitchboardError(
        'MEDIA_RESAMPLE_UNSUPPORTED',
        `ratio ${this.upFactor}/${this.downFactor} (${fromHz} Hz → ${toHz} Hz) is too fine-grained`,
      );
    }
    if (fromHz === toHz) {
      this.#coeffs = new Float32Array(0);
      this.#buf = new Float32Array(0);
      this.tapsPerOutput = 0;
      this.delayOutputSamples = 0;
      return;
    }
    const design = designPolyphase(
      this.upFactor,
      fromHz * this.upFactor,
      Math.min(fromHz, toHz),
      stopbandDb,
      passbandFraction,
    );
    this.#coeffs = design.coeffs;
    this.tapsPerOutput = design.tapsPerPhase;
    this.#buf = new Float32Array(design.tapsPerPhase - 1 + BLOCK_SAMPLES);
    this.delayOutputSamples = (design.length - 1) / 2 / this.downFactor;
  }

  /** Upper bound of samples one process() call can write for `inputSamples` of input: ⌈n·L/M⌉. */
  maxOutputSamples(inputSamples: number): number {
    return Math.ceil((inputSamples * this.upFactor) / this.downFactor);
  }

  /**
   * Resamples `input` into `out` and returns the number of samples written. `out` must hold at least
   * `maxOutputSamples(input.length)` samples. Output is rounded and clipped to int16.
   * @throws RangeError when `out` is too small (a caller bug: the state would otherwise be lost).
   */
  process(input: Int16Array, out: Int16Array): number {
    const n = input.length;
    if (out.length < this.maxOutputSamples(n)) {
      throw new RangeError(`resampler output needs ${this.maxOutputSamples(n)} samples, got ${out.length}`);
    }
    if (this.tapsPerOutput === 0) {
      out.set(input);
      return n;
    }
    const up = this.upFactor;
    const down = this.downFactor;
    const taps = this.tapsPerOutput;
    const coeffs = this.#coeffs;
    const buf = this.#buf;
    const history = taps - 1;
    const taps4 = taps & ~3;
    const symmetric = up === 1;
    const pairs = taps >> 1;
    const pairs4 = pairs & ~3;
    let written = 0;
    for (let offset = 0; offset < n; offset += BLOCK_SAMPLES) {
      const len = Math.min(BLOCK_SAMPLES, n - offset);
      for (let i = 0; i < len; i++) buf[history + i] = input[offset + i] as number;
      const limit = len * up;
      let t = this.#t;
      while (t < limit) {
        const base = (t / up) | 0;
        const c0 = (t - base * up) * taps;
        // Four partial sums: shorter dependency chains let the JIT overlap the multiply-adds.
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        if (symmetric) {
          // L = 1: the single phase is the symmetric prototype, so fold it and halve the multiplies.
          let j = 0;
          let k = base + taps - 1;
          for (; j < pairs4; j += 4, k -= 4) {
            a0 += (coeffs[j] as number) * ((buf[base + j] as number) + (buf[k] as number));
            a1 += (coeffs[j + 1] as number) * ((buf[base + j + 1] as number) + (buf[k - 1] as number));
            a2 += (coeffs[j + 2] as number) * ((buf[base + j + 2] as number) + (buf[k - 2] as number));
            a3 += (coeffs[j + 3] as number) * ((buf[base + j + 3] as number) + (buf[k - 3] as number));
          }
          for (; j < pairs; j++, k--)
            a0 += (coeffs[j] as number) * ((buf[base + j] as number) + (buf[k] as number));
          if (pairs * 2 < taps) a1 += (coeffs[pairs] as number) * (buf[base + pairs] as number);
        } else {
          let j = 0;
          for (; j < taps4; j += 4) {
            a0 += (coeffs[c0 + j] as number) * (buf[base + j] as number);
            a1 += (coeffs[c0 + j + 1] as number) * (buf[base + j + 1] as number);
            a2 += (coeffs[c0 + j + 2] as number) * (buf[base + j + 2] as number);
            a3 += (coeffs[c0 + j + 3] as number) * (buf[base + j + 3] as number);
          }
          for (; j < taps; j++) a0 += (coeffs[c0 + j] as number) * (buf[base + j] as number);
        }
        const acc = a0 + a1 + (a2 + a3);
        out[written++] = acc >= 32767 ? 32767 : acc <= -32768 ? -32768 : Math.round(acc);
        t += down;
      }
      this.#t = t - limit;
      // Keep the last K−1 samples as history for the next block.
      buf.copyWithin(0, len, len + history);
    }
    return written;
  }

  /** Forgets all history (e.g. after a discontinuity such as hold/unhold); the next output starts fresh. */
  reset(): void {
    this.#buf.fill(0);
    this.#t = 0;
  }
}
