/**
 * What one load-test call measures about the server's outbound RTP, from the packets as they arrive.
 *
 * Loss (RFC 3550 §6.4.1 / A.3): the server numbers every packet it sends, so packets sent = extended highest
 * sequence − first + 1, and lost = sent − received.
 *
 * Send lateness: the server stamps each packet with its tick's media time (RTP timestamp, continuous across
 * silence, RFC 3550 §5.1), so `arrival − timestamp/clock` ("transit", §A.8) is constant when every packet
 * leaves exactly on its tick. Its deviation from the call's smallest transit is how late a packet left (plus
 * loopback and client receive delay) relative to the most punctual packet of that call. A constant offset
 * (e.g. a ticker that is always 1 ms late) is invisible by construction: this is jitter, not absolute delay.
 *
 * Short gaps: a packet that follows its predecessor's sequence number but skips 1–6 frame periods of
 * timestamp. The server's playout advances time without sending when its queue underruns or when the
 * ticker skipped ticks (a wake later than the catch-up limit); between echo turns the gaps are seconds long,
 * so short ones point at one of those two.
 */
import type { LatencyHistogram } from '../../src/media/ticker.js';

const SHORT_GAP_MAX_FRAMES = 6;

export class RtpReceiveStats {
  /** Payload type of the audio codec (telephone-event and others are ignored). */
  readonly #payloadType: number;
  readonly #clockPerMs: number;
  readonly #frameSamples: number;
  #received = 0;
  #baseSeq = -1;
  #maxExtSeq = -1;
  #cycles = 0;
  #lastSeq = -1;
  #lastTs = 0;
  #firstTs = 0;
  #duplicatesOrReordered = 0;
  shortGapFrames = 0;
  /** Transit samples (ms) while `measuring`; grows by doubling. */
  #transit = new Float64Array(1024);
  #transitCount = 0;
  #minTransit = Number.POSITIVE_INFINITY;
  measuring = false;

  constructor(payloadType: number, clockRateHz: number, frameSamples: number) {
    this.#payloadType = payloadType;
    this.#clockPerMs = clockRateHz / 1000;
    this.#frameSamples = frameSamples;
  }

  get received(): number {
    return this.#received;
  }

  /** Packets the server sent (from sequence numbers), first to last received. */
  get sent(): number {
    return this.#baseSeq < 0 ? 0 : this.#maxExtSeq - this.#baseSeq + 1;
  }

  get lost(): number {
    return Math.max(0, this.sent - this.#received);
  }

  get duplicatesOrReordered(): number {
    return this.#duplicatesOrReordered;
  }

  onPacket(payloadType: number, sequence: number, timestamp: number, arrivalMs: number): void {
    if (payloadType !== this.#payloadType) return;
    this.#received++;
    if (this.#baseSeq < 0) {
      this.#baseSeq = sequence;
      this.#maxExtSeq = sequence;
      this.#firstTs = timestamp;
    } else {
      // RFC 3550 A.1: extend the 16-bit sequence across wraps.
      const maxSeq = this.#maxExtSeq & 0xffff;
      const delta = (sequence - maxSeq) & 0xffff;
      if (delta > 0 && delta < 0x8000) {
        if (sequence < maxSeq) this.#cycles += 0x10000;
        this.#maxExtSeq = this.#cycles + sequence;
      } else {
        this.#duplicatesOrReordered++;
      }
      if (sequence === ((this.#lastSeq + 1) & 0xffff)) {
        const frames = ((timestamp - this.#lastTs) >>> 0) / this.#frameSamples;
        if (frames >= 2 && frames <= SHORT_GAP_MAX_FRAMES + 1) this.shortGapFrames += frames - 1;
      }
    }
    this.#lastSeq = sequence;
    this.#lastTs = timestamp;
    if (!this.measuring) return;
    const mediaMs = ((timestamp - this.#firstTs) >>> 0) / this.#clockPerMs;
    const transit = arrivalMs - mediaMs;
    if (transit < this.#minTransit) this.#minTransit = transit;
    if (this.#transitCount === this.#transit.length) {
      const bigger = new Float64Array(this.#transit.length * 2);
      bigger.set(this.#transit);
      this.#transit = bigger;
    }
    this.#transit[this.#transitCount++] = transit;
  }

  /** Adds this call's deviations from its own smallest transit to `into`. */
  recordLateness(into: LatencyHistogram): void {
    for (let i = 0; i < this.#transitCount; i++) into.record(this.#transit[i]! - this.#minTransit);
  }

  get latenessSamples(): number {
    return this.#transitCount;
  }
}
