/**
 * Real-input FFT of a power-of-two size M, computed as one complex FFT of size M/2 (the standard even/odd packing),
 * with every table allocated once in the constructor: forward() and inverse() allocate nothing.
 *
 * forward(x) gives the M/2 + 1 non-redundant bins of the unnormalised DFT X[k] = Σ x[n]·e^{-2πikn/M};
 * inverse(X) returns x exactly (the 1/M normalisation is applied there).
 */
export class RealFft {
  readonly size: number;
  readonly bins: number;
  private readonly half: number;
  private readonly bitReverse: Uint32Array;
  /** cos/sin of 2πj/half for the complex FFT of size half. */
  private readonly cosHalf: Float64Array;
  private readonly sinHalf: Float64Array;
  /** cos/sin of 2πk/size for the even/odd split, k = 0..half. */
  private readonly cosFull: Float64Array;
  private readonly sinFull: Float64Array;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 4 || (size & (size - 1)) !== 0) {
      throw new RangeError(`RealFft size must be a power of two >= 4, got ${size}`);
    }
    this.size = size;
    this.half = size / 2;
    this.bins = this.half + 1;
    const half = this.half;
    this.bitReverse = new Uint32Array(half);
    const bits = Math.log2(half);
    for (let i = 0; i < half; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.bitReverse[i] = r;
    }
    this.cosHalf = new Float64Array(half / 2);
    this.sinHalf = new Float64Array(half / 2);
    for (let j = 0; j < half / 2; j++) {
      this.cosHalf[j] = Math.cos((2 * Math.PI * j) / half);
      this.sinHalf[j] = Math.sin((2 * Math.PI * j) / half);
    }
    this.cosFull = new Float64Array(half + 1);
    this.sinFull = new Float64Array(half + 1);
    for (let k = 0; k <= half; k++) {
      this.cosFull[k] = Math.cos((2 * Math.PI * k) / size);
      this.sinFull[k] = Math.sin((2 * Math.PI * k) / size);
    }
    this.zr = new Float64Array(half);
    this.zi = new Float64Array(half);
  }

  /** x: `size` samples → re/im: `bins` values each. */
  forward(x: Float64Array, re: Float64Array, im: Float64Array): void {
    const half = this.half;
    const zr = this.zr;
    const zi = this.zi;
    for (let k = 0; k < half; k++) {
      zr[k] = x[2 * k] as number;
      zi[k] = x[2 * k + 1] as number;
    }
    this.complex(zr, zi, -1);
    // Split Z into the spectra of the even and odd samples, then X[k] = E[k] + W^k·O[k].
    re[0] = (zr[0] as number) + (zi[0] as number);
    im[0] = 0;
    re[half] = (zr[0] as number) - (zi[0] as number);
    im[half] = 0;
    for (let k = 1; k < half; k++) {
      const a = zr[k] as number;
      const b = zi[k] as number;
      const c = zr[half - k] as number;
      const d = zi[half - k] as number;
      const er = 0.5 * (a + c);
      const ei = 0.5 * (b - d);
      const or = 0.5 * (b + d);
      const oi = -0.5 * (a - c);
      const wr = this.cosFull[k] as number;
      const wi = -(this.sinFull[k] as number);
      re[k] = er + wr * or - wi * oi;
      im[k] = ei + wr * oi + wi * or;
    }
  }

  /** re/im: `bins` values of a Hermitian spectrum → x: `size` real samples (normalised). */
  inverse(re: Float64Array, im: Float64Array, x: Float64Array): void {
    const half = this.half;
    const zr = this.zr;
    const zi = this.zi;
    for (let k = 0; k < half; k++) {
      const a = re[k] as number;
      const b = im[k] as number;
      const c = re[half - k] as number;
      const d = im[half - k] as number;
      // E = (X[k] + conj X[n-k]) / 2 ; O = (X[k] - conj X[n-k]) · e^{+2πik/M} / 2 ; Z = E + i·O
      const er = 0.5 * (a + c);
      const ei = 0.5 * (b - d);
      const dr = 0.5 * (a - c);
      const di = 0.5 * (b + d);
      const wr = this.cosFull[k] as number;
      const wi = this.sinFull[k] as number;
      const or = dr * wr - di * wi;
      const oi = dr * wi + di * wr;
      zr[k] = er - oi;
      zi[k] = ei + or;
    }
    this.complex(zr, zi, 1);
    const scale = 1 / half;
    for (let k = 0; k < half; k++) {
      x[2 * k] = (zr[k] as number) * scale;
      x[2 * k + 1] = (zi[k] as number) * scale;
    }
  }

  /** In-place iterative radix-2 complex FFT of size half; sign -1 forward, +1 inverse (unnormalised). */
  private complex(re: Float64Array, im: Float64Array, sign: 1 | -1): void {
    const n = this.half;
    const rev = this.bitReverse;
    for (let i = 0; i < n; i++) {
      const j = rev[i] as number;
      if (j > i) {
        const tr = re[i] as number;
        re[i] = re[j] as number;
        re[j] = tr;
        const ti = im[i] as number;
        im[i] = im[j] as number;
        im[j] = ti;
      }
    }
    for (let len = 2; len <= n; len <<= 1) {
      const halfLen = len >> 1;
      const step = n / len;
      for (let start = 0; start < n; start += len) {
        for (let j = 0; j < halfLen; j++) {
          const wr = this.cosHalf[j * step] as number;
          const wi = sign * (this.sinHalf[j * step] as number);
          const p = start + j;
          const q = p + halfLen;
          const qr = re[q] as number;
          const qi = im[q] as number;
          const tr = wr * qr - wi * qi;
          const ti = wr * qi + wi * qr;
          const pr = re[p] as number;
          const pi = im[p] as number;
          re[q] = pr - tr;
          im[q] = pi - ti;
          re[p] = pr + tr;
          im[p] = pi + ti;
        }
      }
    }
  }
}
