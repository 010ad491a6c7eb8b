/**
 * The jitter buffer's timeline: where an RTP timestamp falls in playout frames, and where the sequence
 * number says the next packet should start.
 *
 * Positions are relative to a reference (timestamp `refTs` starts frame `refFrame`) moved exactly with every
 * newest packet, so 32-bit timestamp wrap-around (RFC 3550 §5.1) is harmless and long calls never overflow.
 * Rebasing (a discontinuity: the reference is moved so a packet lands where the stream expects it) is how
 * the buffer follows a sender that changed its clock without a gap. Allocation-free: results go to fields.
 */
import { tsDiff } from './packet.js';

/** placeNewer(): at its timestamp; moved where its sequence number says (rebased); not placed yet. */
export const PLACED = 0;
export const PLACED_RESYNC = 1;
export const PLACE_STRAY = 2;

export class JitterTimeline {
  readonly #frameUnits: number;
  /** Sample mode: a packet may start anywhere in a frame. Packet mode: at the nearest frame boundary. */
  readonly #sampleMode: boolean;
  #refTs = 0;
  #refFrame = 0;
  /** Result of locate() / expect(): frame and unit offset within it. */
  frame = 0;
  offset = 0;
  /** The newest packet by sequence number: its number, where it ended, how long it was. */
  lastSeq = 0;
  lastEndFrame = 0;
  lastEndOff = 0;
  lastUnits = 0;

  constructor(frameUnits: number, sampleMode: boolean) {
    this.#frameUnits = frameUnits;
    this.#sampleMode = sampleMode;
  }

  /** A new stream: `timestamp` starts frame 0 and the next expected sequence number is `sequence`. */
  start(timestamp: number, sequence: number): void {
    this.rebase(timestamp, 0, 0);
    this.lastSeq = (sequence - 1) & 0xffff;
    this.lastEndFrame = 0;
    this.lastEndOff = 0;
    this.lastUnits = 0;
  }

  /** Sets frame/offset to the position of `timestamp`. */
  locate(timestamp: number): void {
    const F = this.#frameUnits;
    const d = tsDiff(timestamp, this.#refTs);
    if (this.#sampleMode) {
      const k = Math.floor(d / F) | 0;
      this.frame = (this.#refFrame + k) | 0;
      this.offset = (d - k * F) | 0;
    } else {
      this.frame = (this.#refFrame + Math.round(d / F)) | 0;
      this.offset = 0;
    }
  }

  /** Sets frame/offset to where a packet `d` sequence numbers after the newest should start. */
  expect(d: number): void {
    const F = this.#frameUnits;
    const step = (d - 1) * this.lastUnits + this.lastEndOff;
    this.frame = (this.lastEndFrame + Math.floor(step / F)) | 0;
    this.offset = (step % F) | 0;
  }

  /**
   * Sets frame/offset for a packet `d` ≥ 1 sequence numbers after the newest, `units` long: at its
   * timestamp, unless that contradicts the sequence order. Timestamps never go backwards in sequence order
   * (RFC 3550 §5.1): the sender rebased its clock. A packet ending at or beyond `horizonFrame` (the ring's
   * end while audio is still buffered) is the same event the other way: a silence that long would have
   * drained the buffer. Then the packet goes where its sequence number says and the timeline is rebased —
   * at once for the next packet, after a jump only once a second one confirms it (PLACE_STRAY until then).
   */
  placeNewer(timestamp: number, d: number, units: number, horizonFrame: number): number {
    const F = this.#frameUnits;
    this.locate(timestamp);
    const frame = this.frame;
    const off = this.offset;
    this.expect(d);
    const ahead = (frame - this.frame) * F + (off - this.offset);
    const lastFrame = (frame + Math.floor((off + units - 1) / F)) | 0;
    if (ahead >= 0 && (ahead === 0 || lastFrame < horizonFrame)) {
      this.frame = frame;
      this.offset = off;
      return PLACED;
    }
    if (ahead >= 0 && d > 1) return PLACE_STRAY;
    this.rebase(timestamp, this.frame, this.offset);
    return PLACED_RESYNC;
  }

  /** Moves the reference so that `timestamp` is at (`frame`, `off`). */
  rebase(timestamp: number, frame: number, off: number): void {
    this.#refTs = (timestamp - off) | 0;
    this.#refFrame = frame;
  }

  /** Records the newest packet (by sequence) at its position, and moves the reference to it (exactly). */
  advance(sequence: number, timestamp: number, frame: number, off: number, units: number): void {
    const F = this.#frameUnits;
    this.lastSeq = sequence;
    this.lastUnits = units;
    this.lastEndFrame = (frame + Math.floor((off + units) / F)) | 0;
    this.lastEndOff = ((off + units) % F) | 0;
    this.rebase(timestamp, frame, off);
  }
}
