/**
 * One sub-band of the G.722 SB-ADPCM coder: the state the encoder and the decoder keep identically (ITU-T
 * G.722 §3.6 / §4.4, blocks 3L/3H "scale factor adaptation" and 4L/4H "adaptive prediction").
 *
 * All arithmetic is the Recommendation's 16-bit fixed point: products are taken in full and shifted right
 * arithmetically (`>>`, which floors like the Recommendation's two's-complement shift), and the results the
 * Recommendation limits are saturated to the signed 16-bit range.
 */
import { ILB } from './g722-tables.js';

/** Saturation to the signed 16-bit range ("limit" in the block descriptions). */
export function saturate16(value: number): number {
  return value > 32767 ? 32767 : value < -32768 ? -32768 : value;
}

export class G722Band {
  /** Predicted signal value SL / SH for the next sample. */
  s = 0;
  /** Zero-section (6-tap) part of the prediction, SZL / SZH. */
  #sz = 0;
  /** Pole coefficients AL1, AL2 (Q14). */
  #a1 = 0;
  #a2 = 0;
  /** Zero coefficients BL1 … BL6 (Q14). */
  readonly #b = new Int32Array(6);
  /** Past quantized differences DLT1 … DLT6. */
  readonly #d = new Int32Array(6);
  /** Past partially reconstructed signals PLT1, PLT2 and reconstructed signals RLT1, RLT2. */
  #p1 = 0;
  #p2 = 0;
  #r1 = 0;
  #r2 = 0;
  /** Log scale factor NBL / NBH. */
  #nb = 0;
  /** Quantizer scale factor DETL / DETH. */
  det: number;

  /**
   * @param detInitial DETL starts at 32 and DETH at 8 (§3.6.4, the values of a zero log scale factor).
   * @param scaleShift 8 for the lower sub-band (SCALEL), 10 for the higher one (SCALEH).
   * @param nbMax the log scale factor's upper limit: 18432 (LOGSCL) or 22528 (LOGSCH).
   */
  constructor(
    detInitial: number,
    private readonly scaleShift: number,
    private readonly nbMax: number,
  ) {
    this.det = detInitial;
  }

  /**
   * LOGSCL/LOGSCH then SCALEL/SCALEH: the log scale factor leaks (×127/128) and moves by the code's multiplier,
   * and DET follows it through the inverse log table (ILB), a 5-bit mantissa and an exponent.
   */
  adaptScale(multiplier: number): void {
    let nb = ((this.#nb * 127) >> 7) + multiplier;
    if (nb < 0) nb = 0;
    else if (nb > this.nbMax) nb = this.nbMax;
    this.#nb = nb;
    const mantissa = ILB[(nb >> 6) & 31] as number;
    const shift = this.scaleShift - (nb >> 11);
    this.det = (shift < 0 ? mantissa << -shift : mantissa >> shift) << 2;
  }

  /**
   * Block 4 with the quantized difference `dq` (DLT / DH): reconstruct, adapt the 2-pole and 6-zero
   * predictors by their sign algorithms (UPPOL2, UPPOL1, UPZERO), shift the delay lines (DELAYA) and form
   * the next prediction (FILTEP, FILTEZ, PREDIC).
   */
  update(dq: number): void {
    const p = saturate16(dq + this.#sz); // PARREC
    const r = saturate16(this.s + dq); // RECONS
    const negP = p < 0;
    const negP1 = this.#p1 < 0;

    // UPPOL2: a2 += sign terms, with leakage 1 − 2^-7; |a2| ≤ 0.75.
    let wd = saturate16(this.#a1 << 2);
    if (negP === negP1) wd = -wd;
    if (wd > 32767) wd = 32767;
    let a2 = (wd >> 7) + (negP === this.#p2 < 0 ? 128 : -128) + ((this.#a2 * 32512) >> 15);
    if (a2 > 12288) a2 = 12288;
    else if (a2 < -12288) a2 = -12288;

    // UPPOL1: a1 += ±3·2^-8 with leakage 1 − 2^-8; |a1| ≤ 1 − 2^-4 − a2 (stability triangle).
    let a1 = saturate16((negP === negP1 ? 192 : -192) + ((this.#a1 * 32640) >> 15));
    const a1Limit = saturate16(15360 - a2);
    if (a1 > a1Limit) a1 = a1Limit;
    else if (a1 < -a1Limit) a1 = -a1Limit;

    // UPZERO and DELAYA of the zero section: b_i += ±2^-7 by sign agreement (nothing when dq is zero).
    const step = dq === 0 ? 0 : 128;
    const negD = dq < 0;
    const b = this.#b;
    const d = this.#d;
    let sz = 0;
    for (let i = 5; i >= 0; i--) {
      const bi = saturate16(
        ((d[i] as number) < 0 === negD ? step : -step) + (((b[i] as number) * 32640) >> 15),
      );
      b[i] = bi;
      const di = i === 0 ? dq : (d[i - 1] as number);
      d[i] = di;
      // FILTEZ over the shifted line.
      sz += (bi * saturate16(di + di)) >> 15;
    }
    this.#sz = saturate16(sz);

    this.#a1 = a1;
    this.#a2 = a2;
    this.#p2 = this.#p1;
    this.#p1 = p;
    this.#r2 = this.#r1;
    this.#r1 = r;

    // FILTEP and PREDIC.
    const sp = saturate16(
      ((a1 * saturate16(this.#r1 + this.#r1)) >> 15) + ((a2 * saturate16(this.#r2 + this.#r2)) >> 15),
    );
    this.s = saturate16(sp + this.#sz);
  }

  reset(detInitial: number): void {
    this.s = 0;
    this.#sz = 0;
    this.#a1 = 0;
    this.#a2 = 0;
    this.#b.fill(0);
    this.#d.fill(0);
    this.#p1 = 0;
    this.#p2 = 0;
    this.#r1 = 0;
    this.#r2 = 0;
    this.#nb = 0;
    this.det = detInitial;
  }
}
