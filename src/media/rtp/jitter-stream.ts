/**
 * The jitter buffer's stream identity: which SSRC is playing, the one it replaced, and a sequence jump
 * waiting for confirmation.
 *
 * - A new SSRC (RFC 3550 §8.2: the peer restarted, or an SBC re-pointed media) is a new stream that the
 *   buffer continues right after the old one's last packet; stragglers of the old SSRC are `stale`.
 * - A sequence step beyond RFC 3550 §A.1's MAX_DROPOUT / MAX_MISORDER is a stray until a second packet
 *   follows it by one (as RTP's own probation): then the sender really moved its numbering or its clock.
 *
 * 32-bit SSRCs are kept as signed int32 (`| 0`) so V8 stores them unboxed. Allocation-free.
 */

/** RFC 3550 §A.1: sequence steps beyond these are not a reorder or a loss but a restart of the numbering. */
export const MAX_DROPOUT = 3000;
export const MAX_MISORDER = 100;

/** classify(): the current stream; the one switched away from; a new SSRC; a confirmed jump. */
export const SAME_STREAM = 0;
export const STALE_STREAM = 1;
export const NEW_SSRC = 2;
export const CONFIRMED_JUMP = 3;

export class StreamIdentity {
  #ssrc = 0;
  #prevSsrc = 0;
  #havePrev = false;
  #strayArmed = false;
  #straySeq = 0;

  /** A new stream with no history. */
  start(ssrc: number): void {
    this.#ssrc = ssrc | 0;
    this.#havePrev = false;
    this.#strayArmed = false;
  }

  /** Forgets the previous SSRC (its stragglers are then a new stream). */
  forget(): void {
    this.#havePrev = false;
  }

  /** True for a packet of the stream being played. */
  isCurrent(ssrc: number): boolean {
    return (ssrc | 0) === this.#ssrc;
  }

  /** What a packet is to the stream; a NEW_SSRC becomes the current stream. */
  classify(ssrc: number, sequence: number): number {
    if ((ssrc | 0) !== this.#ssrc) {
      if (this.#havePrev && (ssrc | 0) === this.#prevSsrc) return STALE_STREAM;
      this.#prevSsrc = this.#ssrc;
      this.#havePrev = true;
      this.#ssrc = ssrc | 0;
      return NEW_SSRC;
    }
    if (this.#strayArmed && sequence === ((this.#straySeq + 1) & 0xffff)) return CONFIRMED_JUMP;
    return SAME_STREAM;
  }

  /** A packet far off the stream's numbering or clock: the next one in sequence confirms the jump. */
  stray(sequence: number): void {
    this.#strayArmed = true;
    this.#straySeq = sequence;
  }

  /** A packet was placed: no jump pending any more. */
  settle(): void {
    this.#strayArmed = false;
  }
}
