/**
 * The jitter buffer's target depth, in frames: how far behind the newest packet playout runs.
 *
 * The target is the larger of what the RFC 3550 §A.8 interarrival jitter estimate suggests (about three mean
 * deviations cover most of the arrival spread) and the depth the worst recent reordered or late packet
 * would have needed (held for PEAK_HOLD_FRAMES pops, then relaxed frame by frame), within
 * [minDepth, maxDepth] — plus the frames a packet spans beyond one: a 60 ms packet completes three 20 ms
 * frames at once, so the third must not be due before the next packet can arrive. Allocation-free.
 */

/** Pops without a packet needing the peak depth before the peak decays by one frame (10 s at 20 ms). */
const PEAK_HOLD_FRAMES = 500;

export class DepthTarget {
  /** The RFC 3550 §A.8 estimate, read here rather than passed: a fractional argument would be boxed. */
  readonly #jitter: { readonly jitterMs: number };
  readonly #frameMs: number;
  readonly #minFrames: number;
  readonly #maxFrames: number;
  readonly #spanLimit: number;
  #target: number;
  #extraFrames = 0;
  #peakFrames = 0;
  #popsSincePeak = 0;

  /** `spanLimit`: the most extra frames a long packet may add (the ring must hold the result twice). */
  constructor(
    jitter: { readonly jitterMs: number },
    frameMs: number,
    limits: { readonly minMs: number; readonly maxMs: number; readonly initialMs: number },
    ringFrames: number,
  ) {
    const { minMs, maxMs, initialMs } = limits;
    this.#jitter = jitter;
    this.#frameMs = frameMs;
    this.#minFrames = Math.max(1, Math.ceil(minMs / frameMs));
    this.#maxFrames = Math.max(this.#minFrames, Math.ceil(Math.max(minMs, maxMs) / frameMs));
    this.#spanLimit = Math.max(0, (ringFrames >> 1) - this.#maxFrames);
    this.#target = this.#clamp(Math.ceil(initialMs / frameMs));
  }

  /** Target depth in frames. */
  get frames(): number {
    return this.#target;
  }

  /** Beyond this depth a buffer that ran empty skips ahead even without a talkspurt start. */
  get maxFrames(): number {
    return this.#maxFrames + this.#extraFrames;
  }

  get baseMaxFrames(): number {
    return this.#maxFrames;
  }

  /** Recomputes the target from the current jitter estimate. */
  update(): void {
    const jitterFrames = Math.ceil((3 * this.#jitter.jitterMs) / this.#frameMs) | 0;
    this.#target = this.#clamp(Math.max(jitterFrames, this.#peakFrames) + this.#extraFrames);
  }

  /** A packet needed `neededFrames` of depth to be in time (late) or to be reordered in. */
  notePeak(neededFrames: number): void {
    if (neededFrames < this.#peakFrames) return;
    this.#popsSincePeak = 0;
    if (neededFrames === this.#peakFrames) return;
    this.#peakFrames = Math.min(neededFrames, this.#maxFrames);
    this.update();
  }

  /** A packet spanning `extraFrames` frames beyond its first arrived. */
  noteSpan(extraFrames: number): void {
    if (extraFrames <= this.#extraFrames) return;
    this.#extraFrames = Math.min(extraFrames, this.#spanLimit);
    this.update();
  }

  /** One pop: nothing needed the peak depth for a while → relax it by one frame. */
  onPop(): void {
    if (++this.#popsSincePeak > PEAK_HOLD_FRAMES && this.#peakFrames > 0) {
      this.#peakFrames--;
      this.#popsSincePeak = 0;
      this.update();
    }
  }

  #clamp(frames: number): number {
    return Math.min(
      this.#maxFrames + this.#extraFrames,
      Math.max(this.#minFrames + this.#extraFrames, frames),
    );
  }
}
