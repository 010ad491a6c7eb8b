/**
 * The one 20 ms media clock of the process. Every call's playout stream subscribes to the same ticker, so
 * 1,000 calls cost one timer per period instead of 1,000 (DESIGN.md §3 Media).
 *
 * Scheduling is drift-free: tick `n` is due at `epoch + n * periodMs` on a monotonic clock, and each wake
 * re-arms a one-shot timer for the next absolute deadline. Nothing accumulates (no `setInterval`, no
 * `next += period` on a late timestamp), so timer lateness never turns into RTP clock drift.
 *
 * We never spin: the machine is shared. Lateness is accepted and measured; when a wake is later than one
 * period, the missed ticks run back to back (catch-up) so every stream still emits one frame per period and
 * its RTP timestamps stay continuous (RFC 3550 §5.1). Beyond `maxCatchUpTicks` the oldest missed ticks are
 * skipped: subscribers see the tick index jump and advance their timestamps over the gap, so the receiver
 * sees lost time rather than a burst of stale audio.
 */
import { performance } from 'node:perf_hooks';

/** Something driven by the ticker (a call's playout stream). */
export interface TickSubscriber {
  /**
   * Called once per tick, in tick order. `tickIndex` counts periods since the ticker's epoch; it only
   * increases and may jump when ticks were skipped. `lateMs` is how far past the tick's deadline the call runs.
   */
  tick(tickIndex: number, lateMs: number): void;
}

/** Opaque timer handle returned by the injected `setTimer`. */
export type TimerHandle = unknown;

export interface TickerOptions {
  /** Tick period; 20 ms (the default ptime, RFC 3551 §4.2). */
  readonly periodMs?: number;
  /** Missed ticks run back to back up to this many per wake; older ones are skipped. Default 5. */
  readonly maxCatchUpTicks?: number;
  /** A wake this close before a deadline runs the tick instead of sleeping again. Default 1 ms. */
  readonly earlyToleranceMs?: number;
  /** Monotonic clock in ms. Default `performance.now`. */
  readonly now?: () => number;
  /** One-shot timer. Default `setTimeout`. */
  readonly setTimer?: (callback: () => void, delayMs: number) => TimerHandle;
  /** Default `clearTimeout`. */
  readonly clearTimer?: (handle: TimerHandle) => void;
  /** A subscriber threw: it is removed so the other calls keep their clock. Default: `process.emitWarning`. */
  readonly onError?: (error: unknown, subscriber: TickSubscriber) => void;
}

/**
 * Fixed-bucket latency histogram (0.1 ms buckets up to 100 ms, exact max): constant memory and no
 * allocation per sample, so the ticker can record every tick of a long run.
 */
export class LatencyHistogram {
  static readonly bucketMs = 0.1;
  static readonly rangeMs = 100;
  readonly #buckets = new Uint32Array(Math.ceil(LatencyHistogram.rangeMs / LatencyHistogram.bucketMs) + 1);
  #count = 0;
  #maxMs = 0;
  #sumMs = 0;

  /** Records one sample; negative values count as 0. */
  record(valueMs: number): void {
    const v = valueMs > 0 ? valueMs : 0;
    const last = this.#buckets.length - 1;
    const i = Math.min(last, Math.floor(v / LatencyHistogram.bucketMs));
    this.#buckets[i] = (this.#buckets[i] ?? 0) + 1;
    this.#count++;
    this.#sumMs += v;
    if (v > this.#maxMs) this.#maxMs = v;
  }

  get count(): number {
    return this.#count;
  }

  get maxMs(): number {
    return this.#maxMs;
  }

  get meanMs(): number {
    return this.#count === 0 ? Number.NaN : this.#sumMs / this.#count;
  }

  /** Nearest-rank percentile, reported as the upper edge of its bucket (the exact max for the overflow bucket). */
  percentileMs(p: number): number {
    if (this.#count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    const last = this.#buckets.length - 1;
    for (let i = 0; i <= last; i++) {
      seen += this.#buckets[i] ?? 0;
      if (seen >= rank) {
        return i === last ? this.#maxMs : Math.min(this.#maxMs, (i + 1) * LatencyHistogram.bucketMs);
      }
    }
    return this.#maxMs;
  }

  reset(): void {
    this.#buckets.fill(0);
    this.#count = 0;
    this.#maxMs = 0;
    this.#sumMs = 0;
  }
}

/** Counters of one ticker since creation or the last `resetStats()`. */
export interface TickerStats {
  /** Ticks delivered to subscribers (catch-up ticks included, skipped ticks excluded). */
  readonly ticks: number;
  /** Timer callbacks that ran at least one tick. */
  readonly wakes: number;
  /** Timer callbacks that came too early and only re-armed the timer. */
  readonly earlyWakes: number;
  /** Ticks run back to back because a wake was later than one period. */
  readonly catchUpTicks: number;
  /** Ticks never run because a wake was later than `maxCatchUpTicks + 1` periods. */
  readonly skippedTicks: number;
  /** Subscriber exceptions (each removed the subscriber). */
  readonly errors: number;
  /** How late each delivered tick ran relative to its deadline. */
  readonly lateness: LatencyHistogram;
  /** Wall time of each wake spent in subscribers (all their ticks). */
  readonly workMs: LatencyHistogram;
}

const DEFAULT_PERIOD_MS = 20;

/** One shared, drift-free periodic clock. Starts with the first subscriber, stops (no timer left) with the last. */
export class Ticker {
  /** Tick period in ms. */
  readonly periodMs: number;
  readonly #maxCatchUp: number;
  readonly #earlyToleranceMs: number;
  readonly #now: () => number;
  readonly #setTimer: (callback: () => void, delayMs: number) => TimerHandle;
  readonly #clearTimer: (handle: TimerHandle) => void;
  readonly #onError: (error: unknown, subscriber: TickSubscriber) => void;
  /** Deadlines are `epoch + n * periodMs`; fixed for the ticker's life so tick indices never go back. */
  readonly #epochMs: number;
  /** Bound once: no closure per tick. */
  readonly #onTimer = (): void => this.#wake();

  /** Dense array; a slot removed during a tick becomes `undefined` and is compacted after it. */
  readonly #subs: Array<TickSubscriber | undefined> = [];
  #live = 0;
  #ticking = false;
  #holes = false;
  #timer: TimerHandle = undefined;
  #armed = false;
  #nextIndex = 0;

  #ticks = 0;
  #wakes = 0;
  #earlyWakes = 0;
  #catchUpTicks = 0;
  #skippedTicks = 0;
  #errors = 0;
  readonly #lateness = new LatencyHistogram();
  readonly #workMs = new LatencyHistogram();

  constructor(options: TickerOptions = {}) {
    const periodMs = options.periodMs ?? DEFAULT_PERIOD_MS;
    if (!(periodMs > 0) || !Number.isFinite(periodMs))
      throw new RangeError('periodMs must be a positive number');
    const maxCatchUp = options.maxCatchUpTicks ?? 5;
    if (!Number.isInteger(maxCatchUp) || maxCatchUp < 0) {
      throw new RangeError('maxCatchUpTicks must be a non-negative integer');
    }
    this.periodMs = periodMs;
    this.#maxCatchUp = maxCatchUp;
    this.#earlyToleranceMs = Math.max(0, options.earlyToleranceMs ?? 1);
    this.#now = options.now ?? (() => performance.now());
    this.#setTimer = options.setTimer ?? ((cb, ms) => setTimeout(cb, ms));
    this.#clearTimer = options.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
    this.#onError =
      options.onError ??
      ((error) =>
        process.emitWarning(`ticker subscriber threw and was removed: ${String(error)}`, 'TickerWarning'));
    this.#epochMs = this.#now();
  }

  /** Number of subscribers. */
  get size(): number {
    return this.#live;
  }

  /** Whether a timer is armed (false once the last subscriber left). */
  get running(): boolean {
    return this.#armed;
  }

  /** Subscribes; the first subscriber starts the clock. Adding twice is a no-op. */
  add(subscriber: TickSubscriber): void {
    if (this.#subs.includes(subscriber)) return;
    this.#subs.push(subscriber);
    this.#live++;
    if (!this.#armed && !this.#ticking) {
      // Restart on the epoch grid: the next index is the first deadline not yet passed.
      const elapsed = this.#now() - this.#epochMs;
      this.#nextIndex = Math.max(this.#nextIndex, Math.ceil(elapsed / this.periodMs));
      this.#arm();
    }
  }

  /** Unsubscribes; safe inside a tick. The last one out clears the timer so no handle is left behind. */
  remove(subscriber: TickSubscriber): void {
    const i = this.#subs.indexOf(subscriber);
    if (i < 0) return;
    this.#live--;
    if (this.#ticking) {
      this.#subs[i] = undefined;
      this.#holes = true;
    } else {
      this.#subs.splice(i, 1);
    }
    if (this.#live === 0) this.#disarm();
  }

  /** Counters and histograms (live objects; read them, do not keep them across `resetStats`). */
  stats(): TickerStats {
    return {
      ticks: this.#ticks,
      wakes: this.#wakes,
      earlyWakes: this.#earlyWakes,
      catchUpTicks: this.#catchUpTicks,
      skippedTicks: this.#skippedTicks,
      errors: this.#errors,
      lateness: this.#lateness,
      workMs: this.#workMs,
    };
  }

  resetStats(): void {
    this.#ticks = this.#wakes = this.#earlyWakes = this.#catchUpTicks = this.#skippedTicks = this.#errors = 0;
    this.#lateness.reset();
    this.#workMs.reset();
  }

  /** Absolute deadline of tick `index` on the injected clock. */
  deadlineMs(index: number): number {
    // Multiply, never accumulate: float error stays bounded by one rounding, however long the ticker runs.
    return this.#epochMs + index * this.periodMs;
  }

  #arm(): void {
    const delayMs = this.deadlineMs(this.#nextIndex) - this.#now();
    this.#timer = this.#setTimer(this.#onTimer, delayMs > 0 ? delayMs : 0);
    this.#armed = true;
  }

  #disarm(): void {
    if (this.#armed) this.#clearTimer(this.#timer);
    this.#timer = undefined;
    this.#armed = false;
  }

  #wake(): void {
    this.#timer = undefined;
    this.#armed = false;
    if (this.#live === 0) return;
    const now = this.#now();
    // Latest index whose deadline has passed (within the early tolerance: timers keyed on the event loop's
    // cached ms clock can fire a little before a sub-ms deadline).
    const latest = Math.floor((now + this.#earlyToleranceMs - this.#epochMs) / this.periodMs);
    if (latest < this.#nextIndex) {
      this.#earlyWakes++;
      this.#arm();
      return;
    }
    let first = this.#nextIndex;
    const due = latest - first + 1;
    if (due > this.#maxCatchUp + 1) {
      // Too far behind: sending more stale frames in one burst would only overflow the far end's jitter
      // buffer. Skip the oldest; subscribers advance RTP timestamps over the gap (RFC 3550 §5.1).
      const skipped = due - (this.#maxCatchUp + 1);
      this.#skippedTicks += skipped;
      first += skipped;
    }
    this.#catchUpTicks += latest - first;
    this.#wakes++;
    this.#ticking = true;
    for (let index = first; index <= latest; index++) {
      const lateMs = now - this.deadlineMs(index);
      this.#lateness.record(lateMs);
      this.#ticks++;
      this.#runTick(index, lateMs);
    }
    this.#ticking = false;
    this.#nextIndex = latest + 1;
    if (this.#holes) this.#compact();
    this.#workMs.record(this.#now() - now);
    if (this.#live > 0) this.#arm();
  }

  #runTick(index: number, lateMs: number): void {
    // Subscribers added during this tick join at the next one.
    const n = this.#subs.length;
    for (let i = 0; i < n; i++) {
      const sub = this.#subs[i];
      if (sub === undefined) continue;
      try {
        sub.tick(index, lateMs);
      } catch (error) {
        // One faulty call must not stop the clock of every other call.
        this.#errors++;
        this.#subs[i] = undefined;
        this.#holes = true;
        this.#live--;
        this.#onError(error, sub);
      }
    }
  }

  #compact(): void {
    let w = 0;
    for (let r = 0; r < this.#subs.length; r++) {
      const sub = this.#subs[r];
      if (sub !== undefined) this.#subs[w++] = sub;
    }
    this.#subs.length = w;
    this.#holes = false;
  }
}
