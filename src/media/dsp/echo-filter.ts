/**
 * The adaptive part of the line echo canceller (echo-canceller.ts): a partitioned-block frequency-domain NLMS
 * filter (PBFDAF, overlap-save: block N, FFT 2N, P partitions of N taps). Per block it takes the reference
 * block, estimates the echo in the capture block, and — when told to — adapts on the error with a step
 * normalised per bin by Σ_p |X_p|² plus a regularisation floor, with the error clipped per bin (robustness in
 * undetected double talk) and the gradient constraint applied to one partition per block (round robin).
 * Allocation-free after construction.
 */
import { strongestTap } from './echo-delay.js';
import { RealFft } from './fft.js';

/** A bin's error may not exceed this times the reference's magnitude in that bin (a residual echo never does). */
const ERROR_CLIP = 0.5;

export class PartitionedEchoFilter {
  readonly blockSize: number;
  readonly partitions: number;
  readonly #fft: RealFft;
  readonly #bins: number;
  readonly #regularisation: number;
  // Reference spectra ring (partition p of block b at slot (b - p) mod P) and the filter, bins × P each.
  readonly #xr: Float64Array;
  readonly #xi: Float64Array;
  readonly #wr: Float64Array;
  readonly #wi: Float64Array;
  readonly #goodWr: Float64Array;
  readonly #goodWi: Float64Array;
  /** Σ_p |X_p[k]|²: the NLMS regressor norm per bin. */
  readonly #power: Float64Array;
  #head = 0;
  #constrainNext = 0;
  readonly #lastRef: Float64Array;
  readonly #window: Float64Array;
  readonly #time: Float64Array;
  readonly #yr: Float64Array;
  readonly #yi: Float64Array;

  /** `regularisationLevel`: reference rms (int16) below which the step shrinks (quiet references train on noise). */
  constructor(blockSize: number, partitions: number, regularisationLevel: number) {
    const n = blockSize;
    this.blockSize = n;
    this.partitions = partitions;
    this.#fft = new RealFft(2 * n);
    const bins = (this.#bins = this.#fft.bins);
    this.#regularisation = partitions * 2 * n * regularisationLevel ** 2;
    const cells = bins * partitions;
    this.#xr = new Float64Array(cells);
    this.#xi = new Float64Array(cells);
    this.#wr = new Float64Array(cells);
    this.#wi = new Float64Array(cells);
    this.#goodWr = new Float64Array(cells);
    this.#goodWi = new Float64Array(cells);
    this.#power = new Float64Array(bins);
    this.#lastRef = new Float64Array(n);
    this.#window = new Float64Array(2 * n);
    this.#time = new Float64Array(2 * n);
    this.#yr = new Float64Array(bins);
    this.#yi = new Float64Array(bins);
  }

  /** The next reference block (N samples); `undefined`: silence (no FFT). */
  pushReference(x: Float64Array | undefined): void {
    this.#head = (this.#head + 1) % this.partitions;
    const n = this.blockSize;
    if (x === undefined) {
      this.#yr.fill(0);
      this.#yi.fill(0);
      this.#lastRef.fill(0);
    } else {
      const win = this.#window;
      for (let i = 0; i < n; i++) {
        win[i] = this.#lastRef[i] as number;
        win[n + i] = x[i] as number;
        this.#lastRef[i] = x[i] as number;
      }
      this.#fft.forward(win, this.#yr, this.#yi);
    }
    this.#store(this.#head * this.#bins);
  }

  /** Writes the echo estimate ŷ of the current block (N samples) into `out`. */
  estimate(out: Float64Array): void {
    const bins = this.#bins;
    const yr = this.#yr;
    const yi = this.#yi;
    yr.fill(0);
    yi.fill(0);
    const wr = this.#wr;
    const wi = this.#wi;
    const xr = this.#xr;
    const xi = this.#xi;
    for (let p = 0; p < this.partitions; p++) {
      const xo = this.#referenceOffset(p);
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
    this.#fft.inverse(yr, yi, this.#time);
    const n = this.blockSize;
    for (let i = 0; i < n; i++) out[i] = this.#time[n + i] as number;
  }

  /** One NLMS step on the current block's error `e` (N samples) with step size `mu`. */
  adapt(e: Float64Array, mu: number): void {
    const bins = this.#bins;
    const n = this.blockSize;
    const win = this.#window;
    win.fill(0, 0, n);
    for (let i = 0; i < n; i++) win[n + i] = e[i] as number;
    const er = this.#yr;
    const ei = this.#yi;
    this.#fft.forward(win, er, ei);
    const power = this.#power;
    // Clip, then normalise once per bin: E/(Σ|X|² + δ).
    const clip2 = (ERROR_CLIP * ERROR_CLIP) / this.partitions;
    for (let k = 0; k < bins; k++) {
      const norm = (power[k] as number) + this.#regularisation;
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
    const wr = this.#wr;
    const wi = this.#wi;
    const xr = this.#xr;
    const xi = this.#xi;
    for (let p = 0; p < this.partitions; p++) {
      const xo = this.#referenceOffset(p);
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
    // Gradient constraint on one partition: keep the filter causal and N taps long.
    const wo = this.#constrainNext * bins;
    this.#constrainNext = (this.#constrainNext + 1) % this.partitions;
    const time = this.#time;
    this.#fft.inverse(wr.subarray(wo, wo + bins), wi.subarray(wo, wo + bins), time);
    time.fill(0, n);
    this.#fft.forward(time, er, ei);
    wr.set(er, wo);
    wi.set(ei, wo);
  }

  /** Remembers the filter as the last good one. */
  keep(): void {
    this.#goodWr.set(this.#wr);
    this.#goodWi.set(this.#wi);
  }

  /** Back to the last good filter (the divergence guard). */
  rollback(): void {
    this.#wr.set(this.#goodWr);
    this.#wi.set(this.#goodWi);
  }

  /** Forgets everything learned (the echo path moved). */
  reset(): void {
    for (const a of [
      this.#wr,
      this.#wi,
      this.#goodWr,
      this.#goodWi,
      this.#xr,
      this.#xi,
      this.#power,
      this.#lastRef,
    ])
      a.fill(0);
  }

  /** Index of the learned response's strongest tap, −1 if none (statistics: allocates). */
  strongestTap(): number {
    return strongestTap(this.#fft, this.#wr, this.#wi, this.partitions, this.blockSize);
  }

  #referenceOffset(p: number): number {
    const slot = this.#head - p;
    return (slot < 0 ? slot + this.partitions : slot) * this.#bins;
  }

  /** Stores the spectrum in yr/yi in ring slot `base`, keeping the per-bin power sum. */
  #store(base: number): void {
    const power = this.#power;
    for (let k = 0; k < this.#bins; k++) {
      const oldR = this.#xr[base + k] as number;
      const oldI = this.#xi[base + k] as number;
      const r = this.#yr[k] as number;
      const i = this.#yi[k] as number;
      const next = (power[k] as number) - (oldR * oldR + oldI * oldI) + (r * r + i * i);
      power[k] = next > 0 ? next : 0;
      this.#xr[base + k] = r;
      this.#xi[base + k] = i;
    }
  }
}
