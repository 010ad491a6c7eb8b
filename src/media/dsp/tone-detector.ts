/**
 * Call-progress tone detection on the callee's decoded audio (issue 18): the answering machine's beep, fax
 * CNG/CED and the special information tones (SIT) that precede "the number you have dialled…".
 *
 * Method: a spectral peak tracker. Every 10 ms hop a 20 ms window goes through a Goertzel bank (300–2200 Hz in
 * 25 Hz steps), the peak is refined by parabolic interpolation and re-measured with one Goertzel at the refined
 * frequency. A hop is tonal when that single frequency holds ≥ 80 % of the window's energy ("purity"): a pure
 * tone scores ≈ 1, a DTMF pair ≈ 0.5 (two equal tones), speech well below (its energy spreads over several
 * harmonics and moves). Consecutive tonal hops within ±30 Hz form a segment (up to two non-tonal hops are
 * bridged, so V.25 ANSam phase reversals and a lost packet do not split it). Segments are then classified:
 *
 * - beep: 400–2000 Hz, ≥ 200 ms, reported when it ends (frequency, start and duration in media ms);
 * - CNG (ITU-T T.30 §5.3.1, 1100 Hz ± 38 Hz, 0.5 s on / 3 s off): two bursts of 350–800 ms whose onsets are
 *   2.8–4.5 s apart; reported at the end of the second burst;
 * - CED (T.30 / V.25 answer tone, 2100 Hz ± 15 Hz, 2.6–4.0 s): reported once a 2100 Hz segment reaches 2.6 s;
 * - SIT (ANSI T1.401 / ITU-T E.180 §6): three adjacent segments, 913.8 or 985.2 Hz, then 1370.6 or 1428.5 Hz,
 *   then 1776.7 Hz, each 200–450 ms (nominal 274 or 380 ms); reported at the end of the third.
 *
 * A segment that may be the start of a SIT (a first or second SIT tone, immediately followed by the next one)
 * is not reported as a beep. Media time is the number of samples processed, so the figures are exact in the
 * RTP clock, not in wall time. Allocation-free per frame: the only allocation is the (rare) event object.
 */

export type ToneEvent =
  | {
      readonly kind: 'beep';
      readonly frequencyHz: number;
      readonly startMs: number;
      readonly durationMs: number;
    }
  | { readonly kind: 'cng' | 'ced' | 'sit'; readonly atMs: number };

export interface ToneDetectorOptions {
  readonly sampleRateHz: 8000 | 16000;
  readonly onTone: (event: ToneEvent) => void;
  /** Fraction of the window's energy one frequency must hold, default 0.8. */
  readonly purity?: number;
  /** Windows quieter than this are never tonal, default −50 dBFS. */
  readonly floorDbfs?: number;
}

const HOP_MS = 10;
const WINDOW_MS = 20;
const BANK_LOW_HZ = 300;
const BANK_HIGH_HZ = 2200;
const BANK_STEP_HZ = 25;
const MATCH_HZ = 30;
const MAX_GAP_HOPS = 2;

const BEEP_LOW_HZ = 400;
const BEEP_HIGH_HZ = 2000;
const BEEP_MIN_MS = 200;

const SIT_BANDS: readonly (readonly [number, number])[] = [
  [890, 1010], // 913.8 / 985.2 Hz
  [1340, 1460], // 1370.6 / 1428.5 Hz
  [1750, 1805], // 1776.7 Hz
];
const SIT_MIN_MS = 200;
const SIT_MAX_MS = 450;
/** Largest gap between two SIT segments (a mixed window at the boundary plus one lost packet). */
const SIT_MAX_GAP_MS = 40;

const CNG_HZ = 1100;
const CNG_TOL_HZ = 38;
const CNG_MIN_MS = 350;
const CNG_MAX_MS = 800;
const CNG_MIN_PERIOD_MS = 2800;
const CNG_MAX_PERIOD_MS = 4500;

const CED_HZ = 2100;
const CED_TOL_HZ = 15;
const CED_MIN_MS = 2600;

function sitBand(frequencyHz: number): number {
  for (let b = 0; b < SIT_BANDS.length; b++) {
    const band = SIT_BANDS[b] as readonly [number, number];
    if (frequencyHz >= band[0] && frequencyHz <= band[1]) return b;
  }
  return -1;
}

function sitLength(durationMs: number): boolean {
  return durationMs >= SIT_MIN_MS && durationMs <= SIT_MAX_MS;
}

export class ToneDetector {
  readonly #rate: number;
  readonly #onTone: (event: ToneEvent) => void;
  readonly #purity: number;
  readonly #floorEnergy: number;
  readonly #hop: number;
  readonly #window: Float32Array;
  readonly #coeffs: Float64Array;
  readonly #powers: Float64Array;
  #filled = 0;
  #hops = 0;

  // The open segment (hop indices; -1 = none).
  #segStart = -1;
  #segLast = -1;
  #segFreqSum = 0;
  #segHops = 0;
  #cedReported = false;

  // The previous closed segment that may start a SIT, and how far the chain got (1 or 2 tones).
  #sitChain = 0;
  #sitChainEndMs = 0;
  // Segments that ended but are held one gap so a following SIT tone can claim them.
  #pendingBeep = false;
  #pendingFreq = 0;
  #pendingStartMs = 0;
  #pendingDurationMs = 0;
  #pendingEndHop = 0;

  #lastCngOnsetMs = Number.NEGATIVE_INFINITY;

  constructor(options: ToneDetectorOptions) {
    this.#rate = options.sampleRateHz;
    this.#onTone = options.onTone;
    this.#purity = options.purity ?? 0.8;
    this.#hop = (this.#rate * HOP_MS) / 1000;
    const n = (this.#rate * WINDOW_MS) / 1000;
    this.#window = new Float32Array(n);
    const floor = 32768 * 10 ** ((options.floorDbfs ?? -50) / 20);
    this.#floorEnergy = floor * floor * n;
    const bins = Math.floor((BANK_HIGH_HZ - BANK_LOW_HZ) / BANK_STEP_HZ) + 1;
    this.#coeffs = new Float64Array(bins);
    this.#powers = new Float64Array(bins);
    for (let k = 0; k < bins; k++) {
      this.#coeffs[k] = 2 * Math.cos((2 * Math.PI * (BANK_LOW_HZ + k * BANK_STEP_HZ)) / this.#rate);
    }
  }

  /** Media time processed so far, ms. */
  get elapsedMs(): number {
    return this.#hops * HOP_MS + (this.#filled * 1000) / this.#rate;
  }

  /** A tone is sounding (a segment is open): listeners that look for speech skip these frames. */
  get toneActive(): boolean {
    return this.#segStart >= 0;
  }

  /** Feeds decoded audio at the detector's rate (any frame length). */
  process(pcm: Int16Array): void {
    const n = this.#window.length;
    const hop = this.#hop;
    for (let i = 0; i < pcm.length; i++) {
      this.#window[n - hop + this.#filled] = pcm[i] as number;
      this.#filled++;
      if (this.#filled === hop) {
        this.#filled = 0;
        this.#analyse();
        this.#window.copyWithin(0, hop);
      }
    }
  }

  #analyse(): void {
    const hopIndex = this.#hops++;
    const frequencyHz = this.#tonalFrequency();
    if (frequencyHz > 0 && this.#segStart >= 0 && Math.abs(frequencyHz - this.#segMean()) <= MATCH_HZ) {
      this.#segLast = hopIndex;
      this.#segFreqSum += frequencyHz;
      this.#segHops++;
      this.#checkCed(hopIndex);
    } else if (frequencyHz > 0) {
      if (this.#segStart >= 0) this.#closeSegment();
      this.#segStart = hopIndex;
      this.#segLast = hopIndex;
      this.#segFreqSum = frequencyHz;
      this.#segHops = 1;
      this.#cedReported = false;
    } else if (this.#segStart >= 0 && hopIndex - this.#segLast > MAX_GAP_HOPS) {
      this.#closeSegment();
    }
    if (this.#pendingBeep && this.#segStart < 0 && hopIndex - this.#pendingEndHop > MAX_GAP_HOPS + 2) {
      this.#emitPendingBeep();
    }
  }

  #segMean(): number {
    return this.#segFreqSum / this.#segHops;
  }

  /** The window's dominant frequency when it is tonal, else 0. */
  #tonalFrequency(): number {
    const w = this.#window;
    const n = w.length;
    let energy = 0;
    for (let i = 0; i < n; i++) energy += (w[i] as number) * (w[i] as number);
    if (energy < this.#floorEnergy) return 0;
    let best = 0;
    let bestPower = -1;
    const bins = this.#coeffs.length;
    for (let k = 0; k < bins; k++) {
      const p = this.#goertzel(this.#coeffs[k] as number);
      this.#powers[k] = p;
      if (p > bestPower) {
        bestPower = p;
        best = k;
      }
    }
    let frequencyHz = BANK_LOW_HZ + best * BANK_STEP_HZ;
    if (best > 0 && best < bins - 1) {
      const a = Math.sqrt(this.#powers[best - 1] as number);
      const b = Math.sqrt(bestPower);
      const c = Math.sqrt(this.#powers[best + 1] as number);
      const den = a - 2 * b + c;
      if (den < 0) frequencyHz += (0.5 * (a - c) * BANK_STEP_HZ) / den;
    }
    const refined = this.#goertzel(2 * Math.cos((2 * Math.PI * frequencyHz) / this.#rate));
    const purity = (2 * Math.max(refined, bestPower)) / (n * energy);
    return purity >= this.#purity ? frequencyHz : 0;
  }

  /** |X(f)|² of the window at the frequency whose coefficient is 2·cos(ω). */
  #goertzel(coeff: number): number {
    const w = this.#window;
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < w.length; i++) {
      const s = (w[i] as number) + coeff * s1 - s2;
      s2 = s1;
      s1 = s;
    }
    return s1 * s1 + s2 * s2 - coeff * s1 * s2;
  }

  #checkCed(hopIndex: number): void {
    if (this.#cedReported) return;
    const durationMs = (hopIndex - this.#segStart + 2) * HOP_MS;
    if (durationMs >= CED_MIN_MS && Math.abs(this.#segMean() - CED_HZ) <= CED_TOL_HZ) {
      this.#cedReported = true;
      this.#onTone({ kind: 'ced', atMs: this.#windowEndMs(hopIndex) });
    }
  }

  /** Media time at the end of the window analysed at `hopIndex`. */
  #windowEndMs(hopIndex: number): number {
    return (hopIndex + 1) * HOP_MS;
  }

  #closeSegment(): void {
    const frequencyHz = this.#segMean();
    // The window analysed at hop h covers [(h − 1)·10, (h + 1)·10) ms and is tonal when the tone fills
    // about 80 % of it, so a tone in windows start..last ran from ≈ (start − 1)·10 to ≈ (last + 1)·10 ms.
    const startMs = Math.max(0, (this.#segStart - 1) * HOP_MS);
    const durationMs = (this.#segLast + 1) * HOP_MS - startMs;
    const endHop = this.#segLast;
    this.#segStart = -1;

    // A held beep followed at once by this segment: it may be a SIT chain.
    const band = sitBand(frequencyHz);
    const adjacent = startMs - this.#sitChainEndMs <= SIT_MAX_GAP_MS;
    if (this.#sitChain > 0 && adjacent && band === this.#sitChain && sitLength(durationMs)) {
      this.#pendingBeep = false;
      this.#sitChain++;
      this.#sitChainEndMs = startMs + durationMs;
      if (this.#sitChain === SIT_BANDS.length) {
        this.#sitChain = 0;
        this.#onTone({ kind: 'sit', atMs: startMs + durationMs });
        return;
      }
      return;
    }
    if (this.#pendingBeep) this.#emitPendingBeep();
    this.#sitChain = 0;
    if (band === 0 && sitLength(durationMs)) {
      this.#sitChain = 1;
      this.#sitChainEndMs = startMs + durationMs;
    }

    if (
      Math.abs(frequencyHz - CNG_HZ) <= CNG_TOL_HZ &&
      durationMs >= CNG_MIN_MS &&
      durationMs <= CNG_MAX_MS
    ) {
      const periodMs = startMs - this.#lastCngOnsetMs;
      this.#lastCngOnsetMs = startMs;
      if (periodMs >= CNG_MIN_PERIOD_MS && periodMs <= CNG_MAX_PERIOD_MS) {
        this.#onTone({ kind: 'cng', atMs: startMs + durationMs });
      }
    }

    if (frequencyHz >= BEEP_LOW_HZ && frequencyHz <= BEEP_HIGH_HZ && durationMs >= BEEP_MIN_MS) {
      this.#pendingBeep = true;
      this.#pendingFreq = frequencyHz;
      this.#pendingStartMs = startMs;
      this.#pendingDurationMs = durationMs;
      this.#pendingEndHop = endHop;
    }
  }

  #emitPendingBeep(): void {
    this.#pendingBeep = false;
    this.#onTone({
      kind: 'beep',
      frequencyHz: Math.round(this.#pendingFreq),
      startMs: this.#pendingStartMs,
      durationMs: this.#pendingDurationMs,
    });
  }
}
