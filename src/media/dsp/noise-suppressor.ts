/**
 * Uplink noise suppressor (issue 14): stationary background noise (fans, hum, road, a busy office's hiss)
 * taken out of the caller's decoded audio before the provider, its VAD or ours hear it.
 *
 * A short-time spectral method, no trained model (RNNoise's weights ship with no npm package we could verify,
 * and it runs at 48 kHz only):
 * - STFT: 10 ms hops with 50 % overlap (a 20 ms sqrt-Hann window, zero-padded to the FFT size; the same
 *   window for synthesis, so analysis × synthesis is a periodic Hann and overlap-add reconstructs exactly).
 * - Noise power per bin by minima-controlled recursive averaging (MCRA, I. Cohen and B. Berdugo, "Noise
 *   estimation by minima controlled recursive averaging", IEEE Signal Processing Letters 9(1), 2002): the
 *   smoothed periodogram's minimum over ~1–2 s tells speech from noise per bin; the noise estimate follows
 *   the periodogram slowly where speech is absent and holds where it is present.
 * - Gain: Wiener, G = ξ/(1+ξ), with the a-priori SNR ξ from the decision-directed estimate (Y. Ephraim and
 *   D. Malah, IEEE Trans. ASSP 32(6), 1984; α = 0.98), which is what keeps the residual from turning into
 *   "musical noise", refined by a second step (C. Plapous, C. Marro, P. Scalart, "Improved signal-to-noise
 *   ratio estimation for speech enhancement", IEEE TASLP 14(6), 2006: ξ' = |G_dd·Y|²/λ) that removes the
 *   decision-directed estimate's one-hop lag at speech onsets; floored at −18 dB (a natural residual floor masks what musical tones remain, and
 *   a provider's VAD never hears a line gone dead), and released smoothly over time (attack at once, release
 *   over a few hops) so isolated bins do not flicker.
 *
 * Latency: exactly two hops (20 ms): one hop is the overlap-add's (a hop is complete once the next window
 * has been analysed), the other lets frames of any length in at a constant delay (a FIFO of one hop).
 * Sample rates 8 and 16 kHz (the call's decoded rate). All buffers are allocated in the constructor;
 * process() allocates nothing.
 */
import { RealFft } from './fft.js';

export interface NoiseSuppressorOptions {
  readonly sampleRateHz: number;
  /** Largest attenuation applied, dB (positive), default 18. */
  readonly floorDb?: number;
}

export interface NoiseSuppressorStats {
  /** Hops (10 ms) processed. */
  readonly hops: number;
  /** Hops in which most of the speech band was judged speech (speech presence ≥ 0.5 in ≥ 30 % of bins). */
  readonly speechHops: number;
  /** Current noise estimate over the whole band, dBFS (−Infinity before anything was heard). */
  readonly noiseDbfs: number;
  /** Mean attenuation applied over all hops (energy-weighted over bins), dB. */
  readonly meanAttenuationDb: number;
}

const HOP_MS = 10;
/** Decision-directed smoothing of the a-priori SNR. */
const DD_ALPHA = 0.98;
/** Time smoothing of the periodogram for minimum tracking, and its frequency smoothing (3 taps). */
const ALPHA_S = 0.8;
/** Speech presence probability smoothing. */
const ALPHA_P = 0.2;
/** Noise update rate where speech is absent (0.95: a time constant of 20 hops, 200 ms). */
const ALPHA_D = 0.95;
/** Smoothed power over its tracked minimum above which a bin holds speech (MCRA's δ). */
const DELTA = 5;
/** Minimum-tracking window, hops: the minimum spans 1–2 s. */
const MIN_WINDOW_HOPS = 100;
/** Hops at the start over which the noise estimate is the running mean (nothing to compare against yet). */
const INIT_HOPS = 10;
/** Gain release per hop (a hop's gain may fall to at most this fraction of the step towards the new gain). */
const RELEASE = 0.5;
/** Power below which a bin counts as digital silence (int16² units per bin, ≈ −120 dBFS). */
const EPS = 1e-6;

export class NoiseSuppressor {
  readonly sampleRateHz: number;
  readonly hopSamples: number;
  readonly fftSize: number;
  /** Input to output delay, samples (two hops). */
  readonly latencySamples: number;
  readonly #fft: RealFft;
  readonly #bins: number;
  readonly #window: Float64Array;
  readonly #floor: number;
  /** The analysis frame: the previous hop then the current one (2 × hop samples). */
  readonly #frame: Float64Array;
  #filled = 0;
  readonly #time: Float64Array;
  readonly #re: Float64Array;
  readonly #im: Float64Array;
  /** Second half of the previous synthesis frame, waiting for the overlap-add. */
  readonly #overlap: Float64Array;
  /** Output FIFO (ring of 2 hops): samples ready to leave, one hop of zeros at the start. */
  readonly #out: Float64Array;
  #outRead = 0;
  #outWrite: number;
  // Per-bin state.
  readonly #power: Float64Array;
  readonly #smoothed: Float64Array;
  readonly #min: Float64Array;
  readonly #minTmp: Float64Array;
  readonly #presence: Float64Array;
  readonly #noise: Float64Array;
  readonly #prevGain: Float64Array;
  readonly #prevSnr: Float64Array;
  readonly #gain: Float64Array;
  #hops = 0;
  #speechHops = 0;
  #attenuationSumDb = 0;

  constructor(options: NoiseSuppressorOptions) {
    const rate = options.sampleRateHz;
    if (rate !== 8000 && rate !== 16000)
      throw new RangeError(`NoiseSuppressor supports 8000 and 16000 Hz, got ${rate}`);
    this.sampleRateHz = rate;
    const hop = (rate * HOP_MS) / 1000;
    this.hopSamples = hop;
    this.latencySamples = 2 * hop;
    let size = 4;
    while (size < 2 * hop) size <<= 1;
    // Zero-padding the 20 ms window (to 256 / 512) leaves room for the gain's impulse response, so its
    // circular wrap stays out of the synthesis window.
    this.fftSize = size;
    this.#fft = new RealFft(size);
    this.#bins = this.#fft.bins;
    this.#window = new Float64Array(2 * hop);
    for (let n = 0; n < 2 * hop; n++)
      this.#window[n] = Math.sqrt(0.5 * (1 - Math.cos((2 * Math.PI * n) / (2 * hop))));
    this.#floor = 10 ** (-(options.floorDb ?? 18) / 20);
    this.#frame = new Float64Array(2 * hop);
    this.#time = new Float64Array(size);
    this.#re = new Float64Array(this.#bins);
    this.#im = new Float64Array(this.#bins);
    this.#overlap = new Float64Array(hop);
    this.#out = new Float64Array(2 * hop);
    this.#outWrite = hop;
    const bins = this.#bins;
    this.#power = new Float64Array(bins);
    this.#smoothed = new Float64Array(bins);
    this.#min = new Float64Array(bins);
    this.#minTmp = new Float64Array(bins);
    this.#presence = new Float64Array(bins);
    this.#noise = new Float64Array(bins);
    this.#prevGain = new Float64Array(bins).fill(1);
    this.#prevSnr = new Float64Array(bins);
    this.#gain = new Float64Array(bins).fill(1);
  }

  /**
   * Cleans `input` (any length) into `out` (same length; may be `input` itself), delayed by
   * {@link latencySamples}.
   */
  process(input: Int16Array, out: Int16Array = input): void {
    const hop = this.hopSamples;
    const ring = this.#out;
    const ringSize = ring.length;
    const n = Math.min(input.length, out.length);
    for (let i = 0; i < n; i++) {
      const x = input[i] as number;
      const y = ring[this.#outRead] as number;
      this.#outRead = this.#outRead + 1 === ringSize ? 0 : this.#outRead + 1;
      out[i] = y > 32767 ? 32767 : y < -32768 ? -32768 : Math.round(y);
      this.#frame[hop + this.#filled] = x;
      if (++this.#filled === hop) {
        this.#filled = 0;
        this.#hop();
      }
    }
  }

  stats(): NoiseSuppressorStats {
    let noise = 0;
    for (let k = 0; k < this.#bins; k++) noise += this.#noise[k] as number;
    // Noise of power σ² per sample gives E|X[k]|² = σ²·Σw² = σ²·hop (Σ of a 2·hop Hann) in each of the
    // fftSize/2 bins (Parseval), so σ² = Σλ / (fftSize/2 · hop).
    const perSample = noise / ((this.fftSize / 2) * this.hopSamples);
    return {
      hops: this.#hops,
      speechHops: this.#speechHops,
      noiseDbfs: perSample > 0 ? 10 * Math.log10(perSample / 32768 ** 2) : Number.NEGATIVE_INFINITY,
      meanAttenuationDb: this.#hops === 0 ? 0 : this.#attenuationSumDb / this.#hops,
    };
  }

  /** One hop: analyse the last 20 ms, apply the gain, overlap-add one hop into the output FIFO. */
  #hop(): void {
    const hop = this.hopSamples;
    const frame = this.#frame;
    const time = this.#time;
    const w = this.#window;
    for (let n = 0; n < 2 * hop; n++) time[n] = (frame[n] as number) * (w[n] as number);
    // time[2·hop..size) stays zero (padding): only the first 2·hop are ever written.
    this.#fft.forward(time, this.#re, this.#im);
    this.#gains();
    const re = this.#re;
    const im = this.#im;
    const g = this.#gain;
    for (let k = 0; k < this.#bins; k++) {
      const gk = g[k] as number;
      re[k] = (re[k] as number) * gk;
      im[k] = (im[k] as number) * gk;
    }
    this.#fft.inverse(re, im, time);
    const ring = this.#out;
    const overlap = this.#overlap;
    for (let n = 0; n < hop; n++) {
      ring[this.#outWrite] = (overlap[n] as number) + (time[n] as number) * (w[n] as number);
      this.#outWrite = this.#outWrite + 1 === ring.length ? 0 : this.#outWrite + 1;
      overlap[n] = (time[hop + n] as number) * (w[hop + n] as number);
    }
    for (let n = 2 * hop; n < this.fftSize; n++) time[n] = 0;
    // The current hop becomes the previous one.
    frame.copyWithin(0, hop, 2 * hop);
  }

  /** MCRA noise update and the decision-directed Wiener gain, per bin, into #gain. */
  #gains(): void {
    const bins = this.#bins;
    const re = this.#re;
    const im = this.#im;
    const power = this.#power;
    const smoothed = this.#smoothed;
    const min = this.#min;
    const minTmp = this.#minTmp;
    const presence = this.#presence;
    const noise = this.#noise;
    const gain = this.#gain;
    const prevGain = this.#prevGain;
    const prevSnr = this.#prevSnr;
    const first = this.#hops === 0;
    const init = this.#hops < INIT_HOPS;
    this.#hops++;
    const resetMin = this.#hops % MIN_WINDOW_HOPS === 0;
    for (let k = 0; k < bins; k++) {
      const r = re[k] as number;
      const i = im[k] as number;
      power[k] = r * r + i * i;
    }
    let speechBins = 0;
    let inEnergy = 0;
    let outEnergy = 0;
    for (let k = 0; k < bins; k++) {
      const p = power[k] as number;
      // Frequency smoothing over three bins (b = [0.25, 0.5, 0.25]) before the time smoothing.
      const lo = k === 0 ? p : (power[k - 1] as number);
      const hi = k === bins - 1 ? p : (power[k + 1] as number);
      const local = 0.25 * lo + 0.5 * p + 0.25 * hi;
      let s: number;
      if (first) {
        s = local;
        min[k] = local;
        minTmp[k] = local;
        noise[k] = p;
      } else {
        s = ALPHA_S * (smoothed[k] as number) + (1 - ALPHA_S) * local;
        if (s < (min[k] as number)) min[k] = s;
        if (s < (minTmp[k] as number)) minTmp[k] = s;
      }
      smoothed[k] = s;
      // Speech presence: the smoothed power well above its recent minimum.
      const present = s > DELTA * ((min[k] as number) + EPS) ? 1 : 0;
      const q = ALPHA_P * (presence[k] as number) + (1 - ALPHA_P) * present;
      presence[k] = q;
      if (q >= 0.5) speechBins++;
      // Decision-directed a-priori SNR and the Wiener gain, against the noise estimated before this hop (a
      // sudden onset must not raise its own noise estimate first).
      const lambda = (noise[k] as number) + EPS;
      const post = p / lambda;
      const prior = DD_ALPHA * (prevSnr[k] as number) + (1 - DD_ALPHA) * Math.max(post - 1, 0);
      const dd = prior / (1 + prior);
      // Two-step refinement (TSNR): the a-priori SNR of this hop's decision-directed clean estimate.
      const tsnr = dd * dd * post;
      const wiener = Math.max(tsnr / (1 + tsnr), this.#floor);
      // ξ for the next hop from this hop's clean estimate |G·Y|² / λ (the gain before smoothing).
      prevSnr[k] = wiener * wiener * post;
      // Attack at once, release over a few hops.
      const previous = prevGain[k] as number;
      const g = wiener < previous ? previous + RELEASE * (wiener - previous) : wiener;
      gain[k] = g;
      prevGain[k] = g;
      // The noise estimate for the next hop.
      if (init) {
        // Start-up: the running mean of what was heard (the call opens on noise more often than on speech).
        if (!first) noise[k] = (noise[k] as number) + (p - (noise[k] as number)) / this.#hops;
      } else {
        const a = ALPHA_D + (1 - ALPHA_D) * q;
        noise[k] = a * (noise[k] as number) + (1 - a) * p;
      }
      if (resetMin) {
        min[k] = Math.min(minTmp[k] as number, s);
        minTmp[k] = s;
      }
      inEnergy += p;
      outEnergy += g * g * p;
    }
    if (speechBins >= 0.3 * bins) this.#speechHops++;
    if (inEnergy > EPS * bins && outEnergy > 0)
      this.#attenuationSumDb += 10 * Math.log10(inEnergy / outEnergy);
  }
}
