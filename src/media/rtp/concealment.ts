/**
 * Packet loss concealment for PCM16 frames: repeat the last good frame, fading to silence.
 *
 * Repetition hides a single lost 20 ms frame well; repeating longer turns into an audible buzz, so the gain
 * ramps down linearly across `fadeFrames` frames and stays at zero afterwards (the approach of ITU-T G.711
 * Appendix I in its simplest form, without pitch-period search). The ramp is per sample so no step is
 * introduced at frame boundaries.
 */

/** Default number of concealed frames over which the repeated audio fades to silence (60 ms at 20 ms). */
export const DEFAULT_FADE_FRAMES = 3;

/**
 * Writes a concealment frame into `out` (same length as `prev`): `prev` repeated with a gain going from
 * `1 − (lossCount−1)/fadeFrames` to `1 − lossCount/fadeFrames` across the frame; silence once `lossCount`
 * exceeds `fadeFrames`. `lossCount` is 1 for the first consecutive lost frame. Pass the last *good* frame
 * as `prev` for every lost frame of a run (so `out` must not alias `prev`). Allocation-free.
 */
export function concealFrame(
  prev: Int16Array,
  out: Int16Array,
  lossCount: number,
  fadeFrames: number = DEFAULT_FADE_FRAMES,
): void {
  const n = Math.min(prev.length, out.length);
  if (lossCount < 1 || fadeFrames < 1 || lossCount > fadeFrames) {
    out.fill(0, 0, n);
    return;
  }
  const startGain = 1 - (lossCount - 1) / fadeFrames;
  const step = 1 / fadeFrames / n;
  for (let i = 0; i < n; i++) {
    out[i] = Math.round((prev[i] ?? 0) * (startGain - step * (i + 1)));
  }
  if (out.length > n) out.fill(0, n);
}
