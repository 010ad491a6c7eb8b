/**
 * Packets of any duration on the one shared ticker (DESIGN.md §3 Media: one 20 ms clock for every call).
 *
 * A call sends packets of its negotiated ptime (G.711 10–60 ms, Opus 10/20/40/60 ms), not of the tick's period.
 * Packet ("slot") k of a stream covers media time [k·frameMs, (k+1)·frameMs) from the stream's first tick,
 * so its RTP timestamp is exactly base + k·frameSamples (RFC 3550 §5.1) whatever tick it leaves on.
 *
 * Which tick sends slot k: the one nearest to its ideal send time. Tick n (elapsed e = (n − n₀)·tickMs)
 * plays every slot with k·frameMs ≤ e + tickMs/2, so a packet leaves within half a tick (10 ms) of its ideal
 * time, ties going to the earlier tick:
 * - 20, 40, 60 ms: one packet every 1, 2, 3 ticks, exactly on time;
 * - 30 ms: 1, 1, 0 packets per tick (ideal 0, 30, 60 ms leave at 0, 20, 60 ms): |error| ≤ 10 ms, under half
 *   a packet (15 ms). Never sending early would leave every other packet 20 ms late, more than half a packet;
 *   early is harmless here, the audio is already queued and the receiver's jitter buffer places packets by
 *   timestamp. 50 ms works the same way (1, 0, 1, 0, 0 …, |error| ≤ 10 ms < 25 ms);
 * - 10 ms: two packets per tick, the second 10 ms early: the finest the shared clock allows without a timer
 *   per call, and a burst of two packets is well inside any jitter buffer.
 * Ticks the ticker skipped (it fell further behind than its catch-up limit): the slots that belonged to them
 * are passed over — their media time is consumed, the receiver sees lost time instead of a burst of stale
 * audio — exactly as the 20 ms path always did.
 *
 * No allocation: `advance` writes the range into two fields.
 */
export class FrameClock {
  readonly frameMs: number;
  readonly tickMs: number;
  /** First slot due on the tick passed to the last `advance`. */
  start = 0;
  /** One past the last slot due on that tick (`start === end`: nothing this tick). */
  end = 0;
  #originTick = -1;
  #lastTick = -1;
  #next = 0;

  constructor(frameMs: number, tickMs: number) {
    if (!(frameMs > 0) || !Number.isFinite(frameMs)) throw new RangeError('frameMs must be positive');
    if (!(tickMs > 0) || !Number.isFinite(tickMs)) throw new RangeError('tickMs must be positive');
    this.frameMs = frameMs;
    this.tickMs = tickMs;
  }

  /** Slots of tick `tickIndex` into [start, end); returns their count. A repeated or older index plays none. */
  advance(tickIndex: number): number {
    if (this.#originTick < 0) this.#originTick = tickIndex;
    if (tickIndex <= this.#lastTick) {
      this.start = this.end = this.#next;
      return 0;
    }
    if (this.#lastTick >= 0 && tickIndex > this.#lastTick + 1) {
      // Skipped ticks: their slots are gone (timestamps still advance over them, see PlayoutStream).
      this.#next = Math.max(this.#next, this.#dueEnd(tickIndex - 1));
    }
    this.#lastTick = tickIndex;
    this.start = this.#next;
    this.end = Math.max(this.#next, this.#dueEnd(tickIndex));
    this.#next = this.end;
    return this.end - this.start;
  }

  /** One past the last slot whose ideal time is at most half a tick after tick `tickIndex`. */
  #dueEnd(tickIndex: number): number {
    const elapsedMs = (tickIndex - this.#originTick) * this.tickMs;
    return Math.floor((elapsedMs + this.tickMs / 2) / this.frameMs) + 1;
  }
}
