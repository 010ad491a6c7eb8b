/**
 * A call-quality estimate from RTCP figures: the ITU-T G.107 E-model, simplified for one narrowband
 * G.711-class call the usual way (Cole & Rosenbluth, "Voice over IP performance monitoring", 2001):
 *
 *   R   = R0 − Id − Ie,eff            with R0 = 93.2 (G.107 default Ro − Is)
 *   Id  = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3)        d = one-way mouth-to-ear delay in ms, H = step
 *   Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl + Bpl)          Ppl = packet loss in %, random loss (BurstR = 1)
 *   MOS = 1                                    for R ≤ 0
 *         1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶   for 0 < R < 100      (G.107 Annex B)
 *         4.5                                  for R ≥ 100
 *
 * Ie / Bpl per codec from ITU-T G.113 Appendix I: G.711 Ie = 0, Bpl = 4.3 without standard PLC (our
 * concealment repeats one frame, then silence: closer to "none" than to G.711 Appendix I PLC's 25.1).
 * Opus and G.722 have no G.113 narrowband values; they are rated like G.711 here, which over-states loss
 * sensitivity for Opus (FEC) — an estimate for dashboards and alarms, not a listening test.
 */

export interface EModelInput {
  /** One-way delay in ms: half the RTCP round trip plus our packetization and jitter-buffer delay. */
  readonly delayMs: number;
  /** Packet loss in percent (0–100). */
  readonly lossPercent: number;
  /** Equipment impairment of the codec (G.113); default 0 (G.711). */
  readonly ie?: number;
  /** Packet-loss robustness (G.113); default 4.3 (G.711 without PLC). */
  readonly bpl?: number;
}

export interface QualityEstimate {
  /** Transmission rating factor, 0–93.2. */
  readonly rFactor: number;
  /** Estimated mean opinion score, 1–4.5. */
  readonly mos: number;
}

const R0 = 93.2;

export function estimateQuality(input: EModelInput): QualityEstimate {
  const d = Math.max(0, input.delayMs);
  const ppl = Math.max(0, Math.min(100, input.lossPercent));
  const ie = input.ie ?? 0;
  const bpl = input.bpl ?? 4.3;
  const id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
  const ieEff = ie + ((95 - ie) * ppl) / (ppl + bpl);
  const r = Math.max(0, Math.min(R0, R0 - id - ieEff));
  return { rFactor: round(r, 1), mos: round(mosFromR(r), 2) };
}

/** G.107 Annex B: R → MOS (conversational quality estimate). */
export function mosFromR(r: number): number {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

/** `x` rounded to `digits` decimals (for reported figures). */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
