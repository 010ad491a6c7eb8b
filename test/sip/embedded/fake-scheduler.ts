import type { Scheduler, TimerHandle } from '../../../src/sip/embedded/transaction.js';

/** A fake clock: timers fire only when the test advances time. */
export class FakeScheduler implements Scheduler {
  nowMs = 0;
  private timers: Array<{ at: number; fn: () => void; handle: TimerHandle }> = [];
  set(fn: () => void, ms: number): TimerHandle {
    const handle = { __timer: true } as const;
    this.timers.push({ at: this.nowMs + ms, fn, handle });
    return handle;
  }
  clear(handle: TimerHandle | undefined): void {
    this.timers = this.timers.filter((t) => t.handle !== handle);
  }
  advance(ms: number): void {
    const end = this.nowMs + ms;
    for (;;) {
      const next = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.nowMs = next.at;
      next.fn();
    }
    this.nowMs = end;
  }
  get pending(): number {
    return this.timers.length;
  }
}
