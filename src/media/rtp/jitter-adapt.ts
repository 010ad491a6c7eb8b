/**
 * When the jitter buffer's depth changes. Every pop() advances the playout point by exactly one frame, so a
 * loss never shifts time; the depth moves toward the target (jitter-depth.ts) only at deliberate points:
 * - grow: at a gap (a frame missing while later ones are buffered) with the depth below target, or when the
 *   buffer has run empty and the next packet would be played with less than the target depth, concealment
 *   frames are inserted without advancing ("hold") — the listener hears concealment anyway;
 * - jump: when the buffer has run empty and a talkspurt starts (marker bit, RFC 3551 §4.1, or the very next
 *   sequence number after a timestamp gap: nothing can be in flight) playout skips straight to the target;
 * - shrink: when the depth stayed above target for a whole adaptation window, the window's excess (its
 *   minimum depth minus the target: frames playout never needed) is dropped — but only at silence, never a
 *   speech frame (linphone heard the old one-frame skip mid-sentence). Silence is a frame the level test
 *   calls quiet (jitter-silence.ts), or an empty frame between talkspurts: the next buffered frame starts a
 *   talkspurt (marker) or follows the last played one by sequence number, so nothing was lost there. A lost
 *   packet's frame is concealed as usual (skipping it would splice speech as audibly as dropping a frame)
 *   until the depth exceeds the maximum depth: then the frame of a lost packet may go too, and beyond
 *   twice the maximum any frame, one such per window — the last resort against a sender clock that runs
 *   fast through speech without pause or loss (1 % fast is a frame every 2 s), which would otherwise fill
 *   the ring and drop packets by the dozen;
 * - re-anchor: newest packets late in a row for LATE_RUN_MS of media mean the path got slower for good: the
 *   stream is re-anchored at the target depth rather than dropped packet after packet forever (a shorter
 *   run is a stall's tail: dropped, so time never shifts — what the echo canceller and barge-in want).
 *
 * The buffer owns the ring and the playout index and carries out the decisions; this class holds the
 * state behind them. Allocation-free.
 */

/** "No minimum yet" for the shrink window; a small integer (not Infinity) keeps the field a V8 Smi. */
const NO_MIN = 0x3fffffff;

/** Newest packets late in a row covering this much media time re-anchor the stream. */
const LATE_RUN_MS = 200;

/** shrinkDue(): what the buffer may drop at the playout point now (each level includes the ones before). */
export const SHRINK_NONE = 0;
export const SHRINK_SILENCE = 1;
export const SHRINK_LOST = 2;
export const SHRINK_ANY = 3;

/** The target depth, in frames, as jitter-depth.ts keeps it. */
interface Target {
  readonly frames: number;
  readonly maxFrames: number;
}

export class DepthAdaptation {
  readonly #windowFrames: number;
  readonly #target: Target;
  /** Timestamp units covered by the current run of late newest packets, and the run that re-anchors. */
  #lateRun = 0;
  readonly #lateRunLimit: number;
  /** Concealment frames still to insert without advancing (growing after an underrun). */
  #hold = 0;
  #gapIndex = -1;
  #gapHolds = 0;
  #windowPops = 0;
  #windowMin = NO_MIN;
  /** Frames the last window found playout never needed, still to drop at silence. */
  #excess = 0;

  constructor(windowFrames: number, target: Target, frameUnits: number, frameMs: number) {
    this.#windowFrames = Math.max(1, windowFrames);
    this.#target = target;
    this.#lateRunLimit = Math.max(3, Math.ceil(LATE_RUN_MS / frameMs)) * frameUnits;
  }

  reset(): void {
    this.#hold = 0;
    this.#excess = 0;
    this.#windowPops = 0;
    this.#windowMin = NO_MIN;
  }

  /** One pop: true when it is an inserted frame (growing); the playout point must not advance. */
  takeHold(): boolean {
    if (this.#hold === 0) return false;
    this.#hold--;
    return true;
  }

  /**
   * The buffer is empty and `lastFrame` (a packet's last) is the newest to play. Depth it would get:
   * lastFrame − playIndex + 1. Below target: insert concealment frames now (already in a gap). Above target:
   * skip ahead at a talkspurt start (`marker`, or `next`: the very next sequence number, nothing can be in
   * flight for the frames skipped) or beyond the maximum depth — otherwise frames in between may still be
   * coming. Returns the playout index to continue from.
   */
  onArrivalWhenEmpty(lastFrame: number, marker: boolean, next: boolean, playIndex: number): number {
    const targetFrames = this.#target.frames;
    const maxFrames = this.#target.maxFrames;
    const desired = lastFrame - targetFrames + 1;
    if (desired < playIndex) {
      this.#hold = Math.min(playIndex - desired, targetFrames);
    } else if (desired > playIndex && (marker || next || lastFrame - playIndex + 1 > maxFrames)) {
      this.#hold = 0;
      return desired;
    }
    return playIndex;
  }

  /**
   * A gap at `index` with later frames buffered up to `highestFrame`. If the depth is below target (late
   * packets were seen), grow by holding here one frame: the missing packet gets another frame time to
   * arrive, and the listener hears concealment either way. At most `target` holds per missing frame, so a
   * stream that stops mid-gap still drains. True: hold (do not advance).
   */
  holdAtGap(index: number, highestFrame: number): boolean {
    const targetFrames = this.#target.frames;
    if (index !== this.#gapIndex) {
      this.#gapIndex = index;
      this.#gapHolds = 0;
    }
    if (highestFrame - index + 1 >= targetFrames || this.#gapHolds >= targetFrames) return false;
    this.#gapHolds++;
    return true;
  }

  /**
   * One advancing pop at `depthFrames` (`pending` frames buffered): which frame at the playout point the
   * buffer should drop now, if any (SHRINK_*).
   */
  shrinkDue(depthFrames: number, pending: number): number {
    const targetFrames = this.#target.frames;
    if (depthFrames < this.#windowMin) this.#windowMin = depthFrames;
    if (++this.#windowPops >= this.#windowFrames) {
      this.#excess = pending > 0 && this.#windowMin > targetFrames ? this.#windowMin - targetFrames : 0;
      this.#windowPops = 0;
      this.#windowMin = NO_MIN;
    }
    if (this.#excess === 0 || pending === 0 || depthFrames <= targetFrames) return SHRINK_NONE;
    const maxFrames = this.#target.maxFrames;
    if (depthFrames <= maxFrames) return SHRINK_SILENCE;
    return depthFrames <= 2 * maxFrames ? SHRINK_LOST : SHRINK_ANY;
  }

  /**
   * The buffer dropped one frame. Silence may go frame after frame until the excess is gone; a lost or a
   * speech frame at most once per window (the old cadence), so such splices stay a second apart.
   */
  shrank(silence: boolean): void {
    if (!silence) this.#excess = 0;
    else if (this.#excess > 0) this.#excess--;
  }

  /** The newest packet, `units` long, arrived late: true when the run of them calls for a re-anchor. */
  lateNewestReanchors(units: number): boolean {
    this.#lateRun += units;
    return this.#lateRun >= this.#lateRunLimit;
  }

  /** A newest packet in time, or a new clock: the late run is over. */
  endLateRun(): void {
    this.#lateRun = 0;
  }
}
