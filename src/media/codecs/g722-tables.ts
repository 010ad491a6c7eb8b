/**
 * Constant tables of ITU-T G.722 (11/1988, reissued 09/2012) for the 64 kbit/s mode, as printed in the
 * Recommendation's block descriptions (§3 encoder, §4 decoder). Names follow the Recommendation.
 */

/**
 * QMF coefficients h0 … h11 (Table 11/G.722, scaled by 2^13); the 24-tap filter is symmetric, h(23−i) = h(i).
 * They sum to 2^12 over one half, so a DC input passes at unit gain through the even + odd branches.
 */
export const QMF_COEFFS: Int32Array = Int32Array.from([
  3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876,
]);

/**
 * Lower sub-band quantizer decision levels (Table 6/G.722, column "Q6", in units of DETL/4096), for the
 * magnitude intervals MIL = 1 … 29; the interval above the last one is MIL = 30.
 */
export const Q6: Int32Array = Int32Array.from([
  0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219,
  1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
]);

/** 6-bit codes of the lower sub-band per interval MIL (Table 6/G.722): ILN for a negative EL, ILP otherwise. */
export const ILN: Uint8Array = Uint8Array.from([
  0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7,
  6, 5, 4,
]);
export const ILP: Uint8Array = Uint8Array.from([
  0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36,
  35, 34, 33, 32,
]);

/**
 * Inverse quantizer outputs of the 4-bit (predictor path) lower sub-band code, indexed by IL >> 2
 * (Table 7/G.722 "QQ4", scaled by 2^15 relative to DETL).
 */
export const QM4: Int32Array = Int32Array.from([
  0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
]);

/** Inverse quantizer outputs of the full 6-bit lower sub-band code (mode 1 decoder output, "QQ6"). */
export const QM6: Int32Array = Int32Array.from([
  -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232, -9360,
  -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776, -2400, -2032, -1688,
  -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192,
  6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432,
  -136,
]);

/** Log scale factor multipliers of the lower sub-band, per 4-bit code (WL via RIL → Table 8/G.722). */
const WL_BY_LEVEL = [-60, -30, 58, 172, 334, 538, 1198, 3042] as const;
const RIL_TO_LEVEL = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0] as const;
export const WL: Int32Array = Int32Array.from(RIL_TO_LEVEL, (level) => WL_BY_LEVEL[level]);

/** Higher sub-band: 2-bit codes per interval (IHN negative, IHP positive), inverse quantizer, log multipliers. */
export const IHN: Uint8Array = Uint8Array.from([0, 1, 0]);
export const IHP: Uint8Array = Uint8Array.from([0, 3, 2]);
export const QM2: Int32Array = Int32Array.from([-7408, -1616, 7408, 1616]);
export const WH: Int32Array = Int32Array.from([798, -214, 798, -214]);

/** Inverse log base-2 table of the scale factor adaptation (Table 10/G.722 "ILB"). */
export const ILB: Int32Array = Int32Array.from([
  2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834, 2896, 2960,
  3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
]);
