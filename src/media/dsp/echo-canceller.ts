/**
 * Line echo canceller for the call's uplink (issue 14): the caller's audio minus the echo of what we sent.
 *
 * The reference is exact: the PCM we sent on RTP, frame by frame, aligned with the uplink frame received at the
 * same tick. The echo path (hybrid, handset acoustics, the network's round trip inside the tail) is modelled by a
 * partitioned-block frequency-domain adaptive filter (PBFDAF, overlap-save, block N, FFT 2N, P = tail/N
 * partitions, NLMS step normalised per bin), with:
 * - double-talk detection (Geigel: the uplink peak above half the reference peak over the tail) that freezes
 *   adaptation for a hangover, so the caller's own speech never trains the filter away from the echo path;
 * - a divergence guard: a block whose output carries more energy than its input is replaced by the input and
 *   the filter is rolled back to the last good copy;
 * - a mild non-linear processor: while only the far end talks and the filter has converged, the residual is
 *   attenuated (smoothed gain), never during double talk;
 * - nothing at all when the reference has been silent for the whole tail (output = input, no FFTs).
 *
 * Latency: exactly N samples (8 ms); frames of any length are accepted. All buffers are allocated in the
 * constructor; process() allocates nothing.
 */
import { RealFft } from './fft.js';

export interface EchoCancellerOptions {
  readonly sampleRateHz: number;
  /** Echo tail the filter covers (bulk delay + dispersion), default 128 ms. */
  readonly tailMs?: number;
  /** NLMS step size (0 < mu ≤ 1), default 0.5. */
  readonly mu?: number;
  /** Residual echo attenuation of the non-linear processor, dB (0 disables it), default 12. */
  readonly nlpDb?: number;
}

export interface EchoCancellerStats {
  /** Blocks processed with the filter (reference active). */
  readonly activeBlocks: number;
  /** Blocks in which double talk was detected (adaptation frozen). */
  readonly doubleTalkBlocks: number;
  /** Blocks where the divergence guard passed the input through and rolled the filter back. */
  readonly divergenceResets: number;
  /** Echo return loss enhancement of the linear filter, smoothed, dB (input vs output energy, far end only). */
  readonly erleDb: number;
}

const GEIGEL_THRESHOLD = 0.5;
const DOUBLE_TALK_HANGOVER_MS = 60;
/** Reference peaks below this (int16 units, ≈ −66 dBFS) count as silence. */
const SILENCE_PEAK = 16;
/** Far-end level (int16 rms, ≈ −40 dBFS) below which the step shrinks: a quiet reference must not train on noise. */
const REGULARISATION_LEVEL = 300;
/** Output energy per sample above which a block that grew counts as divergence (≈ −50 dBFS). */
const DIVERGENCE_FLOOR = 100 * 100;
const ERROR_CLIP = 0.5;

export class EchoCanceller {
  readonly blockSize: number;
  readonly partitions: number;
  readonly latencySamples: number;
  private readonly fft: RealFft;
  private readonly bins: number;
  private readonly mu: number;
  private readonly nlpFloor: number;
  private readonly hangoverBlocks: number;
  // Reference spectra ring (partition p of block b at slot (b - p) mod P) and the filter, bins × P each.
  private readonly xr: Float64Array;
  private readonly xi: Float64Array;
  private readonly wr: Float64Array;
  private readonly wi: Float64Array;
  private readonly goodWr: Float64Array;
  private readonly goodWi: Float64Array;
  private readonly power: Float64Array;
  private head = 0;
  /** Peak |reference| of each of the last P + 1 blocks (for Geigel and the silence check). */
  private readonly refPeaks: Float64Array;
  private peakHead = 0;
  // Per-block scratch.
  private readonly window: Float64Array;
  private readonly time: Float64Array;
  private readonly yr: Float64Array;
  private readonly yi: Float64Array;
  private readonly er: Float64Array;
  private readonly ei: Float64Array;
  private readonly lastRef: Float64Array;
  // Sample FIFOs: capture and reference in (block-aligned), output out (prefilled with N zeros = the latency).
  private readonly inCapture: Float64Array;
  private readonly inRef: Float64Array;
  private inFill = 0;
  private readonly outRing: Int16Array;
  private outRead = 0;
  private outWrite = 0;
  private outCount = 0;
  private constrainNext = 0;
  private doubleTalkLeft = 0;
  private nlpGain = 1;
  private inEnergy = 0;
  private outEnergy = 0;
  private activeBlocks = 0;
  private doubleTalkBlocks = 0;
  private divergenceResets = 0;
  private goodAge = 0;
  private badBlocks = 0;
  private readonly regularisation: number;

  constructor(options: EchoCancellerOptions) {
    const rate = options.sampleRateHz;
    if (!Number.isInteger(rate) || rate < 8000 || rate > 48000) {
      throw new RangeError(`echo canceller: unsupported sample rate ${rate}`);
    }
    const tailMs = options.tailMs ?? 128;
    if (!(tailMs >= 16 && tailMs <= 512))
      throw new RangeError(`echo canceller: tailMs ${tailMs} not in 16..512`);
    this.mu = options.mu ?? 0.5;
    if (!(this.mu > 0 && this.mu <= 1)) throw new RangeError(`echo canceller: mu ${this.mu} not in (0, 1]`);
    const nlpDb = options.nlpDb ?? 12;
    this.nlpFloor = 10 ** (-Math.max(0, nlpDb) / 20);
    let n = 1;
    while (n < (rate * 8) / 1000) n <<= 1;
    this.blockSize = n;
    this.latencySamples = n;
    this.partitions = Math.max(1, Math.ceil((rate * tailMs) / 1000 / n));
    this.regularisation = this.partitions * 2 * n * REGULARISATION_LEVEL ** 2;
    this.hangoverBlocks = Math.ceil((rate * DOUBLE_TALK_HANGOVER_MS) / 1000 / n);
    this.fft = new RealFft(2 * n);
    this.bins = this.fft.bins;
    const cells = this.bins * this.partitions;
    this.xr = new Float64Array(cells);
    this.xi = new Float64Array(cells);
    this.wr = new Float64Array(cells);
    this.wi = new Float64Array(cells);
    this.goodWr = new Float64Array(cells);
    this.goodWi = new Float64Array(cells);
    this.power = new Float64Array(this.bins);
    this.refPeaks = new Float64Array(this.partitions + 1);
    this.window = new Float64Array(2 * n);
    this.time = new Float64Array(2 * n);
    this.yr = new Float64Array(this.bins);
    this.yi = new Float64Array(this.bins);
    this.er = new Float64Array(this.bins);
    this.ei = new Float64Array(this.bins);
    this.lastRef = new Float64Array(n);
    this.inCapture = new Float64Array(n);
    this.inRef = new Float64Array(n);
    this.outRing = new Int16Array(Math.max(4 * n, 4 * Math.ceil(rate / 50)) + n);
    this.outWrite = n;
    this.outCount = n;
  }

  /**
   * capture: the uplink frame; reference: what we sent on RTP at the same tick (same length; silence when
   * nothing was sent); out: the cleaned frame (same length, may be `capture` itself), delayed by N samples.
   */
  process(capture: Int16Array, reference: Int16Array | undefined, out: Int16Array): void {
    const len = capture.length;
    if (out.length < len || (reference !== undefined && reference.length < len)) {
      throw new RangeError('echo canceller: frame lengths differ');
    }
    if (len > this.outRing.length - 2 * this.blockSize) {
      throw new RangeError(`echo canceller: frame of ${len} samples is too long`);
    }
    const n = this.blockSize;
    for (let i = 0; i < len; i++) {
      this.inCapture[this.inFill] = capture[i] as number;
      this.inRef[this.inFill] = reference === undefined ? 0 : (reference[i] as number);
      this.inFill++;
      if (this.inFill === n) {
        this.block();
        this.inFill = 0;
      }
    }
    const ring = this.outRing;
    for (let i = 0; i < len; i++) {
      out[i] = ring[this.outRead] as number;
      this.outRead = this.outRead + 1 === ring.length ? 0 : this.outRead + 1;
    }
    this.outCount -= len;
  }

  stats(): EchoCancellerStats {
    return {
      activeBlocks: this.activeBlocks,
      doubleTalkBlocks: this.doubleTalkBlocks,
      divergenceResets: this.divergenceResets,
      erleDb: this.outEnergy > 0 ? 10 * Math.log10(this.inEnergy / this.outEnergy) : 0,
    };
  }

  private block(): void {
    const n = this.blockSize;
    const d = this.inCapture;
    const x = this.inRef;
    let refPeak = 0;
    for (let i = 0; i < n; i++) {
      const v = Math.abs(x[i] as number);
      if (v > refPeak) refPeak = v;
    }
    this.peakHead = (this.peakHead + 1) % this.refPeaks.length;
    this.refPeaks[this.peakHead] = refPeak;
    let tailPeak = 0;
    for (let i = 0; i < this.refPeaks.length; i++) {
      if ((this.refPeaks[i] as number) > tailPeak) tailPeak = this.refPeaks[i] as number;
    }
    this.head = (this.head + 1) % this.partitions;
    if (tailPeak < SILENCE_PEAK) {
      // Nothing we sent can be echoing: pass through, keep the spectra ring consistent (zeros).
      this.yr.fill(0);
      this.yi.fill(0);
      this.storeSpectrum(this.head * this.bins, this.yr, this.yi);
      this.lastRef.fill(0);
      for (let i = 0; i < n; i++) this.emit(d[i] as number);
      this.nlpGain = 1;
      return;
    }
    this.activeBlocks++;
    const bins = this.bins;
    const base = this.head * bins;
    // Reference window [previous block, this block] → its spectrum in slot head.
    const win = this.window;
    for (let i = 0; i < n; i++) {
      win[i] = this.lastRef[i] as number;
      win[n + i] = x[i] as number;
      this.lastRef[i] = x[i] as number;
    }
    this.fft.forward(win, this.yr, this.yi);
    this.storeSpectrum(base, this.yr, this.yi);
    // Echo estimate Y = Σ_p W_p · X_(head-p).
    const yr = this.yr;
    const yi = this.yi;
    yr.fill(0);
    yi.fill(0);
    const { wr, wi, xr, xi, partitions: parts } = this;
    for (let p = 0; p < parts; p++) {
      const xo = this.referenceOffset(p);
      const wo = p * bins;
      for (let k = 0; k < bins; k++) {
        const ar = wr[wo + k] as number;
        const ai = wi[wo + k] as number;
        const br = xr[xo + k] as number;
        const bi = xi[xo + k] as number;
        yr[k] = (yr[k] as number) + ar * br - ai * bi;
        yi[k] = (yi[k] as number) + ar * bi + ai * br;
      }
    }
    const time = this.time;
    this.fft.inverse(yr, yi, time);
    // Error e = d − ŷ (the last N samples of the overlap-save output), energies, Geigel.
    let captureEnergy = 0;
    let errorEnergy = 0;
    let capturePeak = 0;
    for (let i = 0; i < n; i++) {
      const di = d[i] as number;
      const yh = time[n + i] as number;
      const e = di - yh;
      win[i] = 0;
      win[n + i] = e;
      captureEnergy += di * di;
      errorEnergy += e * e;
      const a = Math.abs(di);
      if (a > capturePeak) capturePeak = a;
    }
    if (capturePeak > GEIGEL_THRESHOLD * tailPeak) this.doubleTalkLeft = this.hangoverBlocks;
    const doubleTalk = this.doubleTalkLeft > 0;
    if (doubleTalk) {
      this.doubleTalkLeft--;
      this.doubleTalkBlocks++;
    }
    if (errorEnergy > 4 * captureEnergy && errorEnergy > n * DIVERGENCE_FLOOR) {
      // The filter makes it worse: pass the input through; roll back to the last good filter if it persists.
      for (let i = 0; i < n; i++) this.emit(d[i] as number);
      if (++this.badBlocks >= 3) {
        this.wr.set(this.goodWr);
        this.wi.set(this.goodWi);
        this.divergenceResets++;
        this.badBlocks = 0;
      }
      return;
    }
    this.badBlocks = 0;
    if (!doubleTalk) {
      this.inEnergy = 0.95 * this.inEnergy + 0.05 * captureEnergy;
      this.outEnergy = 0.95 * this.outEnergy + 0.05 * errorEnergy;
      this.adapt(base, this.mu);
      if (++this.goodAge >= 4 && errorEnergy < captureEnergy) {
        this.goodWr.set(this.wr);
        this.goodWi.set(this.wi);
        this.goodAge = 0;
      }
    }
    // Non-linear processing: attenuate the residual while only the far end talks and the filter has converged.
    const converged = this.outEnergy * 8 < this.inEnergy;
    const target = !doubleTalk && converged ? this.nlpFloor : 1;
    for (let i = 0; i < n; i++) {
      this.nlpGain += (target - this.nlpGain) * (target < this.nlpGain ? 0.002 : 0.05);
      this.emit((win[n + i] as number) * this.nlpGain);
    }
  }

  private adapt(base: number, mu: number): void {
    const bins = this.bins;
    const n = this.blockSize;
    // Error spectrum of [0…0, e].
    this.fft.forward(this.window, this.er, this.ei);
    const er = this.er;
    const ei = this.ei;
    const power = this.power;
    // Error clipping (robustness in undetected double talk): a bin's error may not exceed ERROR_CLIP times the
    // reference's magnitude in that bin; a residual echo never does, the caller's voice does. The normalised
    // error E/(Σ|X|² + δ) is formed once per bin.
    const clip2 = (ERROR_CLIP * ERROR_CLIP) / this.partitions;
    for (let k = 0; k < bins; k++) {
      const norm = (power[k] as number) + this.regularisation;
      let a = er[k] as number;
      let b = ei[k] as number;
      const mag2 = a * a + b * b;
      const limit2 = clip2 * norm;
      if (mag2 > limit2) {
        const f = Math.sqrt(limit2 / mag2);
        a *= f;
        b *= f;
      }
      const g = mu / norm;
      er[k] = a * g;
      ei[k] = b * g;
    }
    const { wr, wi, xr, xi, partitions: parts } = this;
    for (let p = 0; p < parts; p++) {
      const xo = this.referenceOffset(p);
      const wo = p * bins;
      for (let k = 0; k < bins; k++) {
        const xrk = xr[xo + k] as number;
        const xik = xi[xo + k] as number;
        const a = er[k] as number;
        const b = ei[k] as number;
        wr[wo + k] = (wr[wo + k] as number) + xrk * a + xik * b;
        wi[wo + k] = (wi[wo + k] as number) + xrk * b - xik * a;
      }
    }
    // Gradient constraint, one partition per block (round robin): keep the filter causal and N taps long.
    const p = this.constrainNext;
    this.constrainNext = (p + 1) % this.partitions;
    const wo = p * bins;
    const yr = this.yr;
    const yi = this.yi;
    for (let k = 0; k < bins; k++) {
      yr[k] = this.wr[wo + k] as number;
      yi[k] = this.wi[wo + k] as number;
    }
    this.fft.inverse(yr, yi, this.time);
    this.time.fill(0, n);
    this.fft.forward(this.time, yr, yi);
    for (let k = 0; k < bins; k++) {
      this.wr[wo + k] = yr[k] as number;
      this.wi[wo + k] = yi[k] as number;
    }
  }

  /** Offset of the reference spectrum partition p multiplies (the block p blocks ago). */
  private referenceOffset(p: number): number {
    const slot = this.head - p;
    return (slot < 0 ? slot + this.partitions : slot) * this.bins;
  }

  /** Puts a reference spectrum in ring slot `base`, keeping power[k] = Σ_p |X_p[k]|² (the NLMS regressor norm). */
  private storeSpectrum(base: number, re: Float64Array, im: Float64Array): void {
    const power = this.power;
    for (let k = 0; k < this.bins; k++) {
      const oldR = this.xr[base + k] as number;
      const oldI = this.xi[base + k] as number;
      const r = re[k] as number;
      const i = im[k] as number;
      const next = (power[k] as number) - (oldR * oldR + oldI * oldI) + (r * r + i * i);
      power[k] = next > 0 ? next : 0;
      this.xr[base + k] = r;
      this.xi[base + k] = i;
    }
  }

  private emit(sample: number): void {
    const v = sample > 32767 ? 32767 : sample < -32768 ? -32768 : Math.round(sample);
    this.outRing[this.outWrite] = v;
    this.outWrite = this.outWrite + 1 === this.outRing.length ? 0 : this.outWrite + 1;
    this.outCount++;
  }
}
