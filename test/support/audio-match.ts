/**
 * Finds a reference utterance inside a recording (what a peer heard), for "the echo came back"
 * assertions that hold across codecs, resampling and jitter-buffer delay:
 * 1. energy envelopes (RMS per 10 ms) are correlated at every offset (Pearson, so a loud but different
 *    sound scores low) — cheap and insensitive to phase;
 * 2. around the best offset (±20 ms) the waveforms themselves are correlated (normalised dot product),
 *    which only a faithful copy of the reference passes.
 * Both scores are in [-1, 1]. Mono PCM16 at one sample rate for both inputs.
 */

export interface AudioMatch {
  /** Where the reference starts in the signal. */
  readonly offsetMs: number;
  readonly envelopeScore: number;
  readonly waveformScore: number;
}

const FRAME_MS = 10;

function envelope(pcm: Int16Array, frameSamples: number): Float64Array {
  const frames = Math.floor(pcm.length / frameSamples);
  const out = new Float64Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let i = f * frameSamples; i < (f + 1) * frameSamples; i++) {
      const s = pcm[i] as number;
      sum += s * s;
    }
    out[f] = Math.sqrt(sum / frameSamples);
  }
  return out;
}

/** Pearson correlation of `a` against `b` shifted by `lag` (a[i] ~ b[lag + i]), over their overlap. */
function pearson(a: Float64Array, b: Float64Array, lag: number): number {
  const from = Math.max(0, -lag);
  const to = Math.min(a.length, b.length - lag);
  const n = to - from;
  if (n <= 1) return 0;
  let sa = 0;
  let sb = 0;
  for (let i = from; i < to; i++) {
    sa += a[i] as number;
    sb += b[lag + i] as number;
  }
  const ma = sa / n;
  const mb = sb / n;
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = from; i < to; i++) {
    const x = (a[i] as number) - ma;
    const y = (b[lag + i] as number) - mb;
    cov += x * y;
    va += x * x;
    vb += y * y;
  }
  return va === 0 || vb === 0 ? 0 : cov / Math.sqrt(va * vb);
}

/** Normalised dot product of `ref` against `sig` shifted by `lag`, over their overlap. */
function normalisedDot(ref: Int16Array, sig: Int16Array, lag: number): number {
  const from = Math.max(0, -lag);
  const to = Math.min(ref.length, sig.length - lag);
  let dot = 0;
  let er = 0;
  let es = 0;
  for (let i = from; i < to; i++) {
    const r = ref[i] as number;
    const s = sig[lag + i] as number;
    dot += r * s;
    er += r * r;
    es += s * s;
  }
  return er === 0 || es === 0 ? 0 : dot / Math.sqrt(er * es);
}

/**
 * Best placement of `reference` in `signal`. The reference may run past either end of the signal (a
 * peer's recording can start late or stop early) as long as `minOverlap` of it (default 80 %) overlaps.
 */
export function findAudio(
  reference: Int16Array,
  signal: Int16Array,
  sampleRateHz: number,
  minOverlap = 0.8,
): AudioMatch {
  const frameSamples = Math.round((sampleRateHz * FRAME_MS) / 1000);
  const ref = envelope(reference, frameSamples);
  const sig = envelope(signal, frameSamples);
  const slack = Math.floor(ref.length * (1 - minOverlap));
  let bestFrame = 0;
  let envelopeScore = -1;
  for (let f = -slack; f + ref.length - slack <= sig.length; f++) {
    const score = pearson(ref, sig, f);
    if (score > envelopeScore) {
      envelopeScore = score;
      bestFrame = f;
    }
  }
  if (envelopeScore === -1) return { offsetMs: 0, envelopeScore: 0, waveformScore: 0 };
  const centre = bestFrame * frameSamples;
  const radius = 2 * frameSamples;
  let waveformScore = -1;
  let bestOffset = centre;
  for (let o = centre - radius; o <= centre + radius; o++) {
    const score = normalisedDot(reference, signal, o);
    if (score > waveformScore) {
      waveformScore = score;
      bestOffset = o;
    }
  }
  return { offsetMs: (bestOffset * 1000) / sampleRateHz, envelopeScore, waveformScore };
}

export interface WindowAlignment {
  /** Per window of the reference: its start, where it was found relative to the overall offset, how well. */
  readonly windows: ReadonlyArray<{
    readonly refMs: number;
    readonly shiftMs: number;
    readonly score: number;
  }>;
  /** The worst window's waveform score. */
  readonly minScore: number;
  /** Largest minus smallest shift: audio a jitter buffer dropped or inserted inside the utterance. */
  readonly shiftSpreadMs: number;
}

/**
 * Aligns each `windowMs` stretch of `reference` on its own, within ±`searchMs` of `offsetMs` (from
 * {@link findAudio}). A faithful copy scores > 0.9 in every window even when a jitter buffer slipped a
 * frame in between, which a single whole-utterance correlation would punish; the slips show up as the
 * spread of the shifts. Windows that are silent in the reference are skipped.
 */
export function alignWindows(
  reference: Int16Array,
  signal: Int16Array,
  sampleRateHz: number,
  offsetMs: number,
  windowMs = 500,
  searchMs = 200,
): WindowAlignment {
  const win = Math.round((sampleRateHz * windowMs) / 1000);
  const search = Math.round((sampleRateHz * searchMs) / 1000);
  const offset = Math.round((sampleRateHz * offsetMs) / 1000);
  const windows: Array<{ refMs: number; shiftMs: number; score: number }> = [];
  for (let start = 0; start + win <= reference.length; start += win) {
    const piece = reference.subarray(start, start + win);
    if (soundMs(piece, sampleRateHz) < windowMs / 4) continue;
    let best = -1;
    let bestShift = 0;
    for (let shift = -search; shift <= search; shift++) {
      const at = offset + start + shift;
      if (at < 0 || at + win > signal.length) continue;
      const score = normalisedDot(piece, signal, at);
      if (score > best) {
        best = score;
        bestShift = shift;
      }
    }
    windows.push({
      refMs: (start * 1000) / sampleRateHz,
      shiftMs: (bestShift * 1000) / sampleRateHz,
      score: best,
    });
  }
  const shifts = windows.map((w) => w.shiftMs);
  return {
    windows,
    minScore: windows.length === 0 ? -1 : Math.min(...windows.map((w) => w.score)),
    shiftSpreadMs: shifts.length === 0 ? 0 : Math.max(...shifts) - Math.min(...shifts),
  };
}

/** Milliseconds of 20 ms frames louder than `thresholdRms` (PCM16 units): how much sound is in `pcm`. */
export function soundMs(pcm: Int16Array, sampleRateHz: number, thresholdRms = 300): number {
  const frame = Math.round((sampleRateHz * 20) / 1000);
  const env = envelope(pcm, frame);
  let ms = 0;
  for (const e of env) if (e > thresholdRms) ms += 20;
  return ms;
}

/** `pcm` with `leadMs` of silence before it and `tailMs` after it (a microphone file for a peer). */
export function withSilence(
  pcm: Int16Array,
  sampleRateHz: number,
  leadMs: number,
  tailMs: number,
): Int16Array {
  const lead = Math.round((sampleRateHz * leadMs) / 1000);
  const out = new Int16Array(lead + pcm.length + Math.round((sampleRateHz * tailMs) / 1000));
  out.set(pcm, lead);
  return out;
}

/** One channel of interleaved stereo PCM16 (0 = left). */
export function channel(interleaved: Int16Array, index: 0 | 1): Int16Array {
  const out = new Int16Array(interleaved.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = interleaved[2 * i + index] as number;
  return out;
}

/** Fraction of the energy of `pcm` (16 kHz) above 4 kHz, over its loud 20 ms frames (naive DFT per frame). */
export function energyAbove4kHz(pcm: Int16Array): number {
  const n = 320;
  let high = 0;
  let total = 0;
  for (let start = 0; start + n <= pcm.length; start += n) {
    let frameEnergy = 0;
    for (let i = 0; i < n; i++) frameEnergy += (pcm[start + i] as number) ** 2;
    if (Math.sqrt(frameEnergy / n) < 300) continue;
    // Bins k = 1 … 159 are 50 Hz apart; k ≥ 80 is 4 kHz and above.
    for (let k = 1; k < n / 2; k++) {
      let re = 0;
      let im = 0;
      for (let i = 0; i < n; i++) {
        const angle = (2 * Math.PI * k * i) / n;
        re += (pcm[start + i] as number) * Math.cos(angle);
        im -= (pcm[start + i] as number) * Math.sin(angle);
      }
      const power = re * re + im * im;
      total += power;
      if (k >= 80) high += power;
    }
  }
  return total === 0 ? 0 : high / total;
}
