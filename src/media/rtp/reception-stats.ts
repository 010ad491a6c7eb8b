/**
 * Receiver-side statistics of one RTP stream, as RFC 3550 defines them for reception reports (§6.4.1):
 * extended highest sequence number (§A.1), cumulative packets lost (§A.3) and interarrival jitter (§A.8).
 * Allocation-free; the jitter buffer feeds it and RTCP receiver reports could reuse it.
 */
import { seqDiff } from './packet.js';

const JITTER = 0;
const LAST_TRANSIT = 1;

export class ReceptionStats {
  #started = false;
  #highestSeq = 0;
  #cycles = 0;
  #baseSeq = 0;
  #received = 0;
  #lostBefore = 0;
  /**
   * [jitterMs, lastTransitMs]. Doubles live in a typed array: storing a fractional number into an object
   * field boxes it in a new HeapNumber on every write in V8, which would allocate per packet.
   */
  readonly #f = new Float64Array(2);
  #haveTransit = false;

  /** `initialJitterMs` seeds the estimate (a prior) so it converges from a safe value rather than 0. */
  constructor(initialJitterMs = 0) {
    this.#f[JITTER] = initialJitterMs;
  }

  /** Interarrival jitter estimate in ms (RFC 3550 §A.8). */
  get jitterMs(): number {
    return this.#f[JITTER] ?? 0;
  }

  /** Cumulative packets lost over every stream seen (RFC 3550 §A.3); never negative. */
  get lost(): number {
    return this.#lostBefore + this.#currentLoss();
  }

  /** Starts a new stream (new SSRC or resync) at `seq`, keeping the loss total and the jitter estimate. */
  restart(seq: number): void {
    this.#lostBefore += this.#currentLoss();
    this.#started = true;
    this.#highestSeq = seq;
    this.#baseSeq = seq;
    this.#cycles = 0;
    this.#received = 1;
    this.#haveTransit = false;
  }

  /** Ends the current stream (its loss is kept). */
  stop(): void {
    this.#lostBefore += this.#currentLoss();
    this.#started = false;
  }

  /**
   * Counts one received (non-duplicate) packet. Returns the signed distance from the previous highest
   * sequence number: > 0 in order or after a gap, < 0 reordered.
   */
  noteSequence(seq: number): number {
    this.#received++;
    const d = seqDiff(seq, this.#highestSeq);
    if (d > 0) {
      // §A.1: a smaller raw number that is newer means the 16-bit counter wrapped.
      if (seq < this.#highestSeq) this.#cycles += 65536;
      this.#highestSeq = seq;
    }
    return d;
  }

  /**
   * §A.8: J += (|D(i−1,i)| − J) / 16, with D the change in transit time (arrival minus media time), in ms.
   * The media time is the packet's position in the stream, `mediaUnits / unitsPerMs` (RTP timestamp units:
   * an integer, so passing it never boxes a fractional number, which would allocate per packet).
   */
  noteArrival(arrivalMs: number, mediaUnits: number, unitsPerMs = 1): void {
    const f = this.#f;
    const transit = arrivalMs - mediaUnits / unitsPerMs;
    if (this.#haveTransit) {
      const d = Math.abs(transit - (f[LAST_TRANSIT] ?? 0));
      const j = f[JITTER] ?? 0;
      f[JITTER] = j + (d - j) / 16;
    }
    f[LAST_TRANSIT] = transit;
    this.#haveTransit = true;
  }

  #currentLoss(): number {
    if (!this.#started) return 0;
    const expected = this.#cycles + this.#highestSeq - this.#baseSeq + 1;
    return Math.max(0, expected - this.#received);
  }
}
