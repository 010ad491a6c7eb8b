import { describe, expect, it } from 'vitest';
import { LatencyHistogram, Ticker, type TickSubscriber } from '../../src/media/ticker.js';
import { FakeClock } from './playout.support.js';

/** A subscriber that records each tick with the clock reading at the time. */
class Recorder implements TickSubscriber {
  readonly ticks: Array<{ index: number; atMs: number; lateMs: number }> = [];
  constructor(private readonly clock: FakeClock) {}
  tick(index: number, lateMs: number): void {
    this.ticks.push({ index, atMs: this.clock.nowMs, lateMs });
  }
}

function setup(options: { maxCatchUpTicks?: number } = {}) {
  const clock = new FakeClock(1000);
  const ticker = new Ticker({
    now: clock.now,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
    ...options,
  });
  return { clock, ticker };
}

/** Deterministic jitter source (LCG), so the test is reproducible. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x1_0000_0000;
  };
}

describe('Ticker scheduling', () => {
  it('stays drift-free over 10,000 ticks with jittery timer callbacks', () => {
    const { clock, ticker } = setup();
    const rand = lcg(42);
    // Timers fire 0–4 ms late, and one in ten fires up to 3 ms early (timers keyed on a stale loop clock).
    clock.jitterMs = () => (rand() < 0.1 ? -3 * rand() : 4 * rand());
    const rec = new Recorder(clock);
    ticker.add(rec);
    clock.advanceTo(1000 + 9_999 * 20 + 10);

    expect(rec.ticks).toHaveLength(10_000);
    rec.ticks.forEach((t, i) => {
      expect(t.index).toBe(i);
      const deadline = 1000 + i * 20;
      // Never more than the early tolerance before, never later than the worst jitter plus one re-arm.
      expect(t.atMs).toBeGreaterThanOrEqual(deadline - 1);
      expect(t.atMs - deadline).toBeLessThan(4 + 1e-9);
      expect(t.lateMs).toBeCloseTo(t.atMs - deadline, 9);
    });
    // Every wait aimed at an absolute deadline on the grid (not "now + 20").
    for (const r of clock.requests) {
      const target = r.atMs + r.delayMs;
      if (r.delayMs > 0)
        expect(Math.abs((target - 1000) / 20 - Math.round((target - 1000) / 20))).toBeLessThan(1e-6);
    }
    const stats = ticker.stats();
    expect(stats.ticks).toBe(10_000);
    expect(stats.skippedTicks).toBe(0);
    expect(stats.earlyWakes).toBeGreaterThan(0);
    expect(stats.lateness.count).toBe(10_000);
    expect(stats.lateness.maxMs).toBeLessThan(4);
    expect(ticker.deadlineMs(9_999)).toBe(1000 + 9_999 * 20);
  });

  it('runs the missed ticks back to back when a wake is 3 periods late', () => {
    const { clock, ticker } = setup();
    const rec = new Recorder(clock);
    ticker.add(rec);
    clock.advanceTo(1000 + 4 * 20); // ticks 0..4 on time
    clock.jitterMs = () => 60; // tick 5 arms the timer of tick 6 and it fires 60 ms late
    clock.advanceTo(1000 + 5 * 20);
    clock.jitterMs = () => 0;
    clock.advanceTo(1000 + 9 * 20);
    const burst = rec.ticks.filter((t) => t.atMs === 1000 + 6 * 20 + 60);
    expect(burst.map((t) => t.index)).toEqual([6, 7, 8, 9]);
    expect(burst.map((t) => t.lateMs)).toEqual([60, 40, 20, 0]);
    expect(ticker.stats().catchUpTicks).toBe(3);
    expect(ticker.stats().skippedTicks).toBe(0);
    clock.advanceTo(1000 + 12 * 20);
    expect(rec.ticks.map((t) => t.index)).toEqual([...Array(13).keys()]);
  });

  it('skips the oldest ticks beyond maxCatchUpTicks and the index jumps', () => {
    const { clock, ticker } = setup({ maxCatchUpTicks: 5 });
    const rec = new Recorder(clock);
    ticker.add(rec);
    clock.jitterMs = () => 200; // tick 0 arms tick 1's timer, which fires at 1220: ticks 1..11 are due
    clock.advanceTo(1000);
    clock.advanceTo(1000 + 220);
    expect(rec.ticks.map((t) => t.index)).toEqual([0, 6, 7, 8, 9, 10, 11]);
    expect(ticker.stats().skippedTicks).toBe(5);
    expect(ticker.stats().catchUpTicks).toBe(5);
  });
});

describe('Ticker subscribers', () => {
  it('starts with the first subscriber and leaves no timer after the last leaves', () => {
    const { clock, ticker } = setup();
    expect(clock.pendingTimers).toBe(0);
    const a = new Recorder(clock);
    const b = new Recorder(clock);
    ticker.add(a);
    ticker.add(b);
    ticker.add(a);
    expect(ticker.size).toBe(2);
    expect(clock.pendingTimers).toBe(1);
    clock.advanceTo(1040);
    expect(a.ticks.map((t) => t.index)).toEqual([0, 1, 2]);
    ticker.remove(a);
    ticker.remove(b);
    expect(ticker.running).toBe(false);
    expect(clock.pendingTimers).toBe(0);
    // Restarting keeps tick indices on the same grid, so streams never see time go back.
    clock.advanceTo(1111);
    ticker.add(a);
    clock.advanceTo(1160);
    expect(a.ticks.slice(3).map((t) => t.index)).toEqual([6, 7, 8]);
    expect(a.ticks[3]!.atMs).toBe(1120);
  });

  it('lets a subscriber remove itself during a tick without skipping others', () => {
    const { clock, ticker } = setup();
    const seen: string[] = [];
    const self: TickSubscriber = {
      tick: () => {
        seen.push('self');
        ticker.remove(self);
      },
    };
    const other: TickSubscriber = { tick: (i) => void seen.push(`other${i}`) };
    ticker.add(self);
    ticker.add(other);
    clock.advanceTo(1020);
    expect(seen).toEqual(['self', 'other0', 'other1']);
    ticker.remove(other);
    expect(clock.pendingTimers).toBe(0);
  });

  it('removes a throwing subscriber and keeps ticking the others', () => {
    const clock = new FakeClock(0);
    const errors: unknown[] = [];
    const ticker = new Ticker({
      now: clock.now,
      setTimer: clock.setTimer,
      clearTimer: clock.clearTimer,
      onError: (e) => errors.push(e),
    });
    const bad: TickSubscriber = {
      tick: () => {
        throw new Error('boom');
      },
    };
    const good = new Recorder(clock);
    ticker.add(bad);
    ticker.add(good);
    clock.advanceTo(40);
    expect(errors).toHaveLength(1);
    expect(ticker.size).toBe(1);
    expect(good.ticks).toHaveLength(3);
    expect(ticker.stats().errors).toBe(1);
  });
});

describe('LatencyHistogram', () => {
  it('reports nearest-rank percentiles at bucket resolution and the exact max', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) h.record(i / 10); // 0.1 .. 10 ms
    h.record(250);
    expect(h.count).toBe(101);
    expect(h.percentileMs(50)).toBeCloseTo(5.1, 5);
    expect(h.percentileMs(100)).toBe(250);
    expect(h.maxMs).toBe(250);
  });
});
