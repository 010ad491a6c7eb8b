/**
 * Signal level helpers over PCM16. dBFS here is RMS relative to 32768 (a full-scale square wave is 0 dBFS,
 * a full-scale sine −3.01 dBFS), the convention of most VAD thresholds and of sox `stat`.
 */

/** Level reported for digital silence or an empty range, so comparisons stay well-defined. */
export const SILENCE_DBFS = Number.NEGATIVE_INFINITY;

/** Root-mean-square of `pcm[start, end)` in sample units. 0 for an empty range. */
export function rms(pcm: Int16Array, start = 0, end = pcm.length): number {
  const from = Math.max(0, start);
  const to = Math.min(pcm.length, end);
  if (to <= from) return 0;
  let sum = 0;
  for (let i = from; i < to; i++) {
    const s = pcm[i] as number;
    sum += s * s;
  }
  return Math.sqrt(sum / (to - from));
}

/** RMS level of `pcm[start, end)` in dBFS; `-Infinity` for silence or an empty range. */
export function rmsDbfs(pcm: Int16Array, start = 0, end = pcm.length): number {
  const r = rms(pcm, start, end);
  return r === 0 ? SILENCE_DBFS : 20 * Math.log10(r / 32768);
}

export type FrameClass = 'silence' | 'active';

/**
 * Energy-only frame classifier: `active` when the frame's RMS level reaches `thresholdDbfs`. No hangover or
 * adaptation; callers that need those (VAD) smooth the sequence of classes themselves.
 * @param thresholdDbfs default −45 dBFS, well above G.711 idle noise and below quiet speech.
 */
export function classifyFrame(pcm: Int16Array, thresholdDbfs = -45, start = 0, end = pcm.length): FrameClass {
  return rmsDbfs(pcm, start, end) >= thresholdDbfs ? 'active' : 'silence';
}
