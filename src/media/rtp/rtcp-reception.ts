/**
 * What an RTCP receiver report says about the stream we receive (RFC 3550 §6.4.1): SSRC, extended highest
 * sequence number (§A.1), cumulative and interval loss (§A.3). Fed once per accepted RTP packet, so it is
 * allocation-free: every field is a small integer or lives in a typed array (an SSRC ≥ 2^31 stored in an
 * object field would box a new HeapNumber per write in V8).
 *
 * The jitter (§A.8) is not computed here: the jitter buffer already keeps that estimate from its arrival
 * clock (ReceptionStats), and a second clock read per packet would allocate.
 */
import { seqDiff } from './packet.js';

/** §A.1: a jump further than this is a restart or garbage, not loss (confirmed by the next packet). */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;

const SSRC = 0;
const BAD_SEQ = 1;

export interface IntervalReport {
  /** §6.4.1 fraction lost since the previous report, 8-bit fixed point (0–255). */
  readonly fractionLost: number;
  /** Packets lost in this stream so far (never negative here: duplicates do not make it go below 0). */
  readonly cumulativeLost: number;
  readonly extendedHighestSeq: number;
}

export class RtcpReception {
  readonly #u32 = new Uint32Array(2);
  #started = false;
  #haveBad = false;
  #baseSeq = 0;
  #maxSeq = 0;
  #cycles = 0;
  #received = 0;
  #expectedPrior = 0;
  #receivedPrior = 0;
  /** Totals of the streams before the current one (SSRC change or restart). */
  #expectedBefore = 0;
  #lostBefore = 0;
  #receivedTotal = 0;

  /** The source being received (0 before the first packet: check {@link started}). */
  get ssrc(): number {
    return this.#u32[SSRC] ?? 0;
  }

  get started(): boolean {
    return this.#started;
  }

  /** Packets received over the whole call (duplicates included, as §A.3 counts them). */
  get packetsReceived(): number {
    return this.#receivedTotal;
  }

  /** Packets expected over the whole call (every stream's highest − base + 1). */
  get packetsExpected(): number {
    return this.#expectedBefore + this.#expected();
  }

  /** Packets lost over the whole call. */
  get packetsLost(): number {
    return this.#lostBefore + this.#lost();
  }

  /** One accepted RTP packet. */
  note(ssrc: number, seq: number): void {
    const u = this.#u32;
    if (!this.#started || ssrc >>> 0 !== u[SSRC]) {
      this.#restart(ssrc, seq);
      return;
    }
    const d = seqDiff(seq, this.#maxSeq);
    if (d > 0 && d < MAX_DROPOUT) {
      if (seq < this.#maxSeq) this.#cycles += 65536;
      this.#maxSeq = seq;
      this.#received++;
      this.#receivedTotal++;
    } else if (d <= 0 && d >= -MAX_MISORDER) {
      this.#received++; // reordered or duplicate
      this.#receivedTotal++;
    } else if (this.#haveBad && seq === u[BAD_SEQ]) {
      // §A.1: two sequential packets after a big jump: the source restarted its numbering.
      this.#restart(ssrc, seq);
    } else {
      this.#haveBad = true;
      u[BAD_SEQ] = (seq + 1) & 0xffff;
    }
  }

  /** The figures of one report block, and the start of the next interval (§A.3). */
  report(): IntervalReport {
    const expected = this.#expected();
    const expectedInterval = expected - this.#expectedPrior;
    const receivedInterval = this.#received - this.#receivedPrior;
    this.#expectedPrior = expected;
    this.#receivedPrior = this.#received;
    const lostInterval = expectedInterval - receivedInterval;
    const fractionLost =
      expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.floor((lostInterval * 256) / expectedInterval);
    return {
      fractionLost: Math.min(255, fractionLost),
      cumulativeLost: this.#lost(),
      extendedHighestSeq: (this.#cycles + this.#maxSeq) >>> 0,
    };
  }

  #restart(ssrc: number, seq: number): void {
    if (this.#started) {
      this.#expectedBefore += this.#expected();
      this.#lostBefore += this.#lost();
    }
    this.#started = true;
    this.#haveBad = false;
    this.#u32[SSRC] = ssrc;
    this.#baseSeq = seq;
    this.#maxSeq = seq;
    this.#cycles = 0;
    this.#received = 1;
    this.#receivedTotal++;
    this.#expectedPrior = 0;
    this.#receivedPrior = 0;
  }

  #expected(): number {
    return this.#started ? this.#cycles + this.#maxSeq - this.#baseSeq + 1 : 0;
  }

  #lost(): number {
    return Math.max(0, this.#expected() - this.#received);
  }
}
