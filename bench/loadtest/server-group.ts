/**
 * K server processes on one host, laid out like `switchboard serve --instances K` (each its own SIP and
 * HTTP port and its own slice of the RTP range), measured as one: counters and CPU seconds add up, latency
 * figures take the worst instance. Calls are spread round robin by the caller (`uri(user, i)`), as
 * Kamailio's dispatcher (algorithm 4) would. Separate `ServerProcess`es rather than `serve --instances` so
 * that each instance keeps its own IPC channel for the ticker probe and its own /metrics address.
 */
import type { TickerProbeStats } from './ticker-probe.js';
import { readSchedStat, waitMsBetween, type SchedStat } from './schedstat.js';
import { ServerProcess, type ServerProcessOptions, type ServerSnapshot } from './server-process.js';

export interface ServerGroupOptions extends Omit<ServerProcessOptions, 'rtpPortMin' | 'rtpPortMax'> {
  readonly instances: number;
  /** The whole RTP range, split in equal even-aligned slices. */
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
  /** One SIP address per instance (behind Kamailio each needs its own, see run-once.ts); default 127.0.0.1. */
  readonly sipHosts?: readonly string[];
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const max = (xs: readonly number[]): number => Math.max(...xs);

export class ServerGroup {
  readonly members: readonly ServerProcess[];

  private constructor(members: ServerProcess[]) {
    this.members = members;
  }

  static async start(options: ServerGroupOptions): Promise<ServerGroup> {
    const slice = Math.floor((options.rtpPortMax - options.rtpPortMin + 1) / options.instances / 2) * 2;
    const started = await Promise.allSettled(
      Array.from({ length: options.instances }, (_, i) =>
        ServerProcess.start({
          ...options,
          ...(options.sipHosts?.[i] === undefined ? {} : { sipHost: options.sipHosts[i] }),
          rtpPortMin: options.rtpPortMin + i * slice,
          rtpPortMax: options.rtpPortMin + (i + 1) * slice - 1,
        }),
      ),
    );
    const members = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(members.map((m) => m.stop()));
      throw failed.reason;
    }
    return new ServerGroup(members);
  }

  get size(): number {
    return this.members.length;
  }

  /** Call i goes to instance i mod K. */
  uri(user: string, i: number): string {
    return this.members[i % this.members.length]!.uri(user);
  }

  /** The same request to every instance (each has its own tenant store); the first failure is returned. */
  async apiAll(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const results = await Promise.all(this.members.map((m) => m.api(method, path, body)));
    return results.find((r) => r.status >= 300) ?? results[0]!;
  }

  /** Per-instance snapshots, in member order. */
  snapshots(): Promise<ServerSnapshot[]> {
    return Promise.all(this.members.map((m) => m.snapshot()));
  }

  /** The group as one server: sums, and the worst instance for event-loop delay. */
  static combine(s: readonly ServerSnapshot[]): ServerSnapshot {
    return {
      atMs: max(s.map((x) => x.atMs)),
      cpuSeconds: sum(s.map((x) => x.cpuSeconds)),
      rssBytes: sum(s.map((x) => x.rssBytes)),
      heapUsedBytes: sum(s.map((x) => x.heapUsedBytes)),
      activeCalls: sum(s.map((x) => x.activeCalls)),
      rtpLost: sum(s.map((x) => x.rtpLost)),
      rtpLate: sum(s.map((x) => x.rtpLate)),
      callsRejected: sum(s.map((x) => x.callsRejected)),
      agentErrors: sum(s.map((x) => x.agentErrors)),
      bargeIns: sum(s.map((x) => x.bargeIns)),
      eldP50Seconds: max(s.map((x) => x.eldP50Seconds)),
      eldP99Seconds: max(s.map((x) => x.eldP99Seconds)),
      eldMaxSeconds: max(s.map((x) => x.eldMaxSeconds)),
    };
  }

  async snapshot(): Promise<ServerSnapshot> {
    return ServerGroup.combine(await this.snapshots());
  }

  /** Every instance's ticker; `stats` merges them (counts add, percentiles are the worst instance's). */
  async tickerProbe(op: 'reset' | 'stats'): Promise<TickerProbeStats | undefined> {
    const all = await Promise.all(this.members.map((m) => m.tickerProbe(op)));
    if (all.some((x) => x === undefined)) return undefined;
    const s = all as TickerProbeStats[];
    const worst = (k: keyof TickerProbeStats): number => max(s.map((x) => x[k]));
    const total = (k: keyof TickerProbeStats): number => sum(s.map((x) => x[k]));
    return {
      tickers: total('tickers'),
      ticks: total('ticks'),
      catchUpTicks: total('catchUpTicks'),
      skippedTicks: total('skippedTicks'),
      latenessP50Ms: worst('latenessP50Ms'),
      latenessP99Ms: worst('latenessP99Ms'),
      latenessMaxMs: worst('latenessMaxMs'),
      workP50Ms: worst('workP50Ms'),
      workP99Ms: worst('workP99Ms'),
      workMaxMs: worst('workMaxMs'),
      sendDoneP50Ms: worst('sendDoneP50Ms'),
      sendDoneP99Ms: worst('sendDoneP99Ms'),
      sendDoneMaxMs: worst('sendDoneMaxMs'),
    };
  }

  /** The main threads' scheduler counters, one per instance. */
  schedStats(): Array<SchedStat | undefined> {
    return this.members.map((m) => (m.pid === undefined ? undefined : readSchedStat(m.pid)));
  }

  /** Run-queue wait summed over the instances between two `schedStats()` readings, ms. */
  static waitMs(a: ReadonlyArray<SchedStat | undefined>, b: ReadonlyArray<SchedStat | undefined>): number {
    return sum(a.map((x, i) => waitMsBetween(x, b[i])));
  }

  async waitIdle(timeoutMs: number): Promise<ServerSnapshot> {
    return ServerGroup.combine(await Promise.all(this.members.map((m) => m.waitIdle(timeoutMs))));
  }

  get logLines(): string[] {
    return this.members.flatMap((m) => m.logLines);
  }

  get logLineCount(): number {
    return sum(this.members.map((m) => m.logLineCount));
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop()));
  }
}
