import { Gauge, type Registry } from 'prom-client';

/** What the metrics read from the media clock (structural, so observability/ does not import media/). */
export interface ClockStatsSource {
  stats(): {
    readonly ticks: number;
    readonly catchUpTicks: number;
    readonly skippedTicks: number;
    readonly lateness: { percentileMs(p: number): number; readonly maxMs: number };
    readonly workMs: { percentileMs(p: number): number };
  };
}

/**
 * Exposes the shared 20 ms clock's health on /metrics: tick lateness and work quantiles since start, and the
 * ticks run late back to back or skipped. Read at scrape time (no work on the media path).
 */
export function registerClockMetrics(registry: Registry, clock: ClockStatsSource): void {
  const registers = [registry];
  new Gauge({
    name: 'switchboard_media_tick_lateness_ms',
    help: 'How late the media clock ran its ticks, by quantile since start',
    labelNames: ['quantile'] as const,
    registers,
    collect() {
      const s = clock.stats();
      this.set({ quantile: '0.5' }, s.lateness.percentileMs(50) || 0);
      this.set({ quantile: '0.99' }, s.lateness.percentileMs(99) || 0);
      this.set({ quantile: '1' }, s.lateness.maxMs || 0);
    },
  });
  new Gauge({
    name: 'switchboard_media_tick_work_ms',
    help: 'Time spent in all calls per media tick, by quantile since start',
    labelNames: ['quantile'] as const,
    registers,
    collect() {
      const s = clock.stats();
      this.set({ quantile: '0.5' }, s.workMs.percentileMs(50) || 0);
      this.set({ quantile: '0.99' }, s.workMs.percentileMs(99) || 0);
    },
  });
  new Gauge({
    name: 'switchboard_media_ticks',
    help: 'Media clock ticks: run, run late back to back (catch-up), skipped',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const s = clock.stats();
      this.set({ kind: 'run' }, s.ticks);
      this.set({ kind: 'catch_up' }, s.catchUpTicks);
      this.set({ kind: 'skipped' }, s.skippedTicks);
    },
  });
}
