/**
 * Preloaded into the server process (`node --import …/ticker-probe.js dist/src/cli.js serve`) to read the
 * server's own media clock without changing the server, and answers `{probe: 'reset' | 'stats'}` messages
 * on the IPC channel the load test opens. Ticker lateness is not in /metrics, and the client-side figure
 * includes the load client's own event-loop delay; these are the server-internal figures.
 *
 * - Ticker stats: how late each tick started (deadline → tick run) and how long each wake's work took.
 * - Send done: a sentinel subscriber queues a microtask from every tick. Microtasks run after the timer
 *   callback has ticked every call and after the nextTick queue, where dgram issues the sends it deferred
 *   (dns.lookup of an IP literal answers on nextTick), so `microtask time − tick deadline` is when the last
 *   call's packet of that tick was handed to the kernel: the worst send lateness of the tick.
 */
import { LatencyHistogram, Ticker, type TickSubscriber } from '../../src/media/ticker.js';

export interface TickerProbeStats {
  readonly tickers: number;
  readonly ticks: number;
  readonly catchUpTicks: number;
  readonly skippedTicks: number;
  readonly latenessP50Ms: number;
  readonly latenessP99Ms: number;
  readonly latenessMaxMs: number;
  readonly workP50Ms: number;
  readonly workP99Ms: number;
  readonly workMaxMs: number;
  /** Deadline → every packet of the tick sent. */
  readonly sendDoneP50Ms: number;
  readonly sendDoneP99Ms: number;
  readonly sendDoneMaxMs: number;
}

interface Probe {
  readonly sentinel: TickSubscriber;
  readonly sendDone: LatencyHistogram;
  attached: boolean;
}

const probes = new Map<Ticker, Probe>();
const add = Ticker.prototype.add;
const remove = Ticker.prototype.remove;

function probeOf(ticker: Ticker): Probe {
  let p = probes.get(ticker);
  if (p === undefined) {
    const sendDone = new LatencyHistogram();
    p = {
      sendDone,
      attached: false,
      sentinel: {
        tick(index: number): void {
          const deadline = ticker.deadlineMs(index);
          queueMicrotask(() => sendDone.record(performance.now() - deadline));
        },
      },
    };
    probes.set(ticker, p);
  }
  return p;
}

Ticker.prototype.add = function (this: Ticker, subscriber: TickSubscriber): void {
  const p = probeOf(this);
  if (!p.attached) {
    p.attached = true;
    add.call(this, p.sentinel);
  }
  add.call(this, subscriber);
};

Ticker.prototype.remove = function (this: Ticker, subscriber: TickSubscriber): void {
  remove.call(this, subscriber);
  const p = probes.get(this);
  // Only the sentinel left: take it out too, so the ticker stops as it would without the probe.
  if (p?.attached === true && this.size === 1) {
    p.attached = false;
    remove.call(this, p.sentinel);
  }
};

function summary(): TickerProbeStats {
  // The server has one ticker (main.ts); report the busiest if there were ever more.
  let best: Ticker | undefined;
  for (const t of probes.keys()) if (best === undefined || t.stats().ticks > best.stats().ticks) best = t;
  const s = best?.stats();
  const d = best === undefined ? undefined : probes.get(best)?.sendDone;
  return {
    tickers: probes.size,
    ticks: s?.ticks ?? 0,
    catchUpTicks: s?.catchUpTicks ?? 0,
    skippedTicks: s?.skippedTicks ?? 0,
    latenessP50Ms: s?.lateness.percentileMs(50) ?? Number.NaN,
    latenessP99Ms: s?.lateness.percentileMs(99) ?? Number.NaN,
    latenessMaxMs: s?.lateness.maxMs ?? Number.NaN,
    workP50Ms: s?.workMs.percentileMs(50) ?? Number.NaN,
    workP99Ms: s?.workMs.percentileMs(99) ?? Number.NaN,
    workMaxMs: s?.workMs.maxMs ?? Number.NaN,
    sendDoneP50Ms: d?.percentileMs(50) ?? Number.NaN,
    sendDoneP99Ms: d?.percentileMs(99) ?? Number.NaN,
    sendDoneMaxMs: d?.maxMs ?? Number.NaN,
  };
}

if (process.send !== undefined) {
  process.on('message', (msg: unknown) => {
    const probe = (msg as { probe?: unknown } | null)?.probe;
    if (probe === 'reset') {
      for (const [t, p] of probes) {
        t.resetStats();
        p.sendDone.reset();
      }
    }
    if (probe === 'reset' || probe === 'stats') process.send?.({ probe: summary() });
  });
  // The channel must not keep a server alive that is shutting down.
  process.channel?.unref();
}
