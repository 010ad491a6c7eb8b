/**
 * What the callee's early media (RFC 3960: ringback, announcements in a 183 with SDP) said before the 200:
 * the leg's frames, kept in a ring of preallocated slots (the most recent `maxFrames`, nothing allocated per
 * packet), handed to the call's agent once it is attached, oldest first.
 */
import type { MediaLeg } from './media-leg.js';

/** 10 s of 20 ms frames. */
const DEFAULT_MAX_FRAMES = 500;
/** A G.711/G.722 frame of up to 40 ms; bigger frames (Opus at high rates) are counted and dropped. */
const DEFAULT_SLOT_BYTES = 320;

export class EarlyAudioBuffer {
  readonly #slots: Buffer;
  readonly #lengths: Uint16Array;
  readonly #maxFrames: number;
  readonly #slotBytes: number;
  #next = 0;
  #count = 0;
  #leg: MediaLeg | undefined;
  /** Frames seen while recording, and frames too big for a slot. */
  seen = 0;
  oversized = 0;

  constructor(maxFrames = DEFAULT_MAX_FRAMES, slotBytes = DEFAULT_SLOT_BYTES) {
    this.#maxFrames = maxFrames;
    this.#slotBytes = slotBytes;
    this.#slots = Buffer.alloc(maxFrames * slotBytes);
    this.#lengths = new Uint16Array(maxFrames);
  }

  /** Frames held (at most maxFrames). */
  get frames(): number {
    return this.#count;
  }

  readonly #onFrame = (payload: Buffer): void => {
    this.seen++;
    if (payload.length > this.#slotBytes) {
      this.oversized++;
      return;
    }
    payload.copy(this.#slots, this.#next * this.#slotBytes);
    this.#lengths[this.#next] = payload.length;
    this.#next = (this.#next + 1) % this.#maxFrames;
    if (this.#count < this.#maxFrames) this.#count++;
  };

  /** Keeps the leg's frames from now on (until `stop` or `replay`). */
  record(leg: MediaLeg): void {
    this.stop();
    this.#leg = leg;
    leg.on('frame', this.#onFrame);
  }

  stop(): void {
    this.#leg?.off('frame', this.#onFrame);
    this.#leg = undefined;
  }

  /** Stops recording and hands every held frame to `sink`, oldest first (views valid during the call only). */
  replay(sink: (frame: Buffer) => void): void {
    this.stop();
    const first = (this.#next - this.#count + this.#maxFrames) % this.#maxFrames;
    const count = this.#count;
    this.#count = 0;
    for (let i = 0; i < count; i++) {
      const slot = (first + i) % this.#maxFrames;
      const start = slot * this.#slotBytes;
      sink(this.#slots.subarray(start, start + (this.#lengths[slot] ?? 0)));
    }
  }
}
