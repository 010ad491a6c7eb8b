/** Prints a load-test run: the detail block of one run and the one-line-per-run summary table. */
import { fmt } from '../util.js';
import type { RunResult } from './run-once.js';

const load = (l: readonly number[]): string => l.map((x) => fmt(x, 2)).join(' ');

export function printRun(r: RunResult, print: (line: string) => void): void {
  const s = r.server;
  const c = r.client;
  const l = c.lateness;
  print(
    `calls ${c.established}/${r.options.calls} (${r.options.provider}), window ${fmt(r.windowS, 1)} s, ` +
      `ramp ${r.options.rampMs} ms; load average before ${load(r.loadBefore)}, after ${load(r.loadAfter)}`,
  );
  print(
    `server CPU ${fmt(s.cpuPercent, 1)} % of one core = ${fmt(s.cpuPerCallPercent, 3)} % per call ` +
      `(${fmt(s.cpuPerCallPercent > 0 ? 100 / s.cpuPerCallPercent : Number.NaN, 0)} calls per core at this rate)`,
  );
  if (r.options.instances > 1 || r.options.kamailio)
    print(
      `${r.options.instances} instance(s): ` +
        s.instanceCpuPercent
          .map((x, k) => {
            const n = s.instanceCalls[k] ?? 0;
            return `#${k} ${n} calls, CPU ${fmt(x, 1)} % = ${fmt(x > 0 ? n / (x / 100) : Number.NaN, 0)} calls/core`;
          })
          .join('; ') +
        `; all: ${fmt(s.callsPerCore, 0)} calls per core of instance CPU used ` +
        `(idle before the calls: ${fmt(s.idleCpuPercent, 1)} % in all)`,
    );
  const p = r.proxy;
  if (p !== undefined) {
    print(
      `kamailio: CPU ${fmt(p.cpuPercent, 1)} % of one core in the window; ${fmt(p.runCpuMsPerCall, 2)} ms CPU ` +
        `per call over the run (set-up, keepalives, tear-down); ` +
        `dispatched ${[...p.dispatched].map(([to, n]) => `${n} to ${to}`).join(', ') || 'nothing'}`,
    );
    for (const line of p.problems) print(`  kamailio: ${line.trim().slice(0, 300)}`);
  }
  print(
    `server RSS ${fmt(s.rssBaselineMb, 1)} MB idle → ${fmt(s.rssLoadedMb, 1)} MB loaded = ` +
      `${fmt(s.rssPerCallKb, 0)} KB per call (heap used ${fmt(s.heapLoadedMb, 1)} MB)`,
  );
  print(
    `server RTP send lateness (client-measured, vs each call's most punctual packet): ` +
      `p50 ${fmt(l.percentileMs(50), 1)} ms  p99 ${fmt(l.percentileMs(99), 1)} ms  ` +
      `p99.9 ${fmt(l.percentileMs(99.9), 1)} ms  max ${fmt(l.maxMs, 1)} ms  (${l.count} packets)`,
  );
  const t = s.ticker;
  if (t !== undefined) {
    print(
      `server ticker (its own stats): lateness p50 ${fmt(t.latenessP50Ms, 1)} ms  p99 ${fmt(t.latenessP99Ms, 1)} ms  ` +
        `max ${fmt(t.latenessMaxMs, 1)} ms; tick work p50 ${fmt(t.workP50Ms, 1)} ms  p99 ${fmt(t.workP99Ms, 1)} ms  ` +
        `max ${fmt(t.workMaxMs, 1)} ms; ${t.ticks} ticks, ${t.catchUpTicks} catch-up, ${t.skippedTicks} skipped`,
    );
    print(
      `server send lateness (its own clock: tick deadline → last packet of the tick sent): ` +
        `p50 ${fmt(t.sendDoneP50Ms, 1)} ms  p99 ${fmt(t.sendDoneP99Ms, 1)} ms  max ${fmt(t.sendDoneMaxMs, 1)} ms`,
    );
  }
  print(
    `server event-loop delay (beyond 10 ms sampling): p50 ${fmt(s.eldP50Ms, 2)} ms  ` +
      `p99 ${fmt(s.eldP99Ms, 2)} ms  max ${fmt(s.eldMaxMs, 2)} ms; main thread waited ` +
      `${fmt(s.runQueueWaitMs, 0)} ms for a CPU (${fmt(s.runQueueWaitMs / 10 / r.windowS / r.options.instances, 1)} % of the window)`,
  );
  print(
    `server→client: ${c.serverPacketsSent} packets sent (by sequence), ${c.serverPacketsReceived} received, ` +
      `${c.serverPacketsLost} lost, ${c.shortGapFrames} frames in short timestamp gaps` +
      (c.duplicatesOrReordered > 0 ? `, ${c.duplicatesOrReordered} duplicate/reordered` : ''),
  );
  print(
    `client→server: ${c.clientPacketsSent} packets sent, server jitter buffers: ${s.rtpLost} lost, ` +
      `${s.rtpLate} late (${fmt(s.rtpLate / Math.max(1, c.established), 2)} per call; arrived after their playout slot)`,
  );
  print(
    `failed calls ${c.failed} (not established) + ${c.endedByRemote} ended by the server; ` +
      `lost frames total ${r.lostFrames}; calls ended by the server ${c.endedByRemote}, rejected ${s.callsRejected}, ` +
      `agent errors ${s.agentErrors}, barge-ins ${s.bargeIns}, still active after hang-up ${s.activeAtEnd}`,
  );
  print(
    `load client: CPU ${fmt(c.cpuPercent, 1)} % in the window; whole run: ticker lateness p50 ` +
      `${fmt(c.tickerLatenessP50Ms, 1)} ms p99 ${fmt(c.tickerLatenessP99Ms, 1)} ms max ` +
      `${fmt(c.tickerLatenessMaxMs, 1)} ms, skipped ticks ${c.tickerSkipped}, event-loop delay p99 ` +
      `${fmt(c.eldP99Ms, 2)} ms max ${fmt(c.eldMaxMs, 2)} ms; waited ${fmt(c.runQueueWaitMs, 0)} ms for a CPU ` +
      `in the window${c.hungUpCleanly ? '' : '; NOT every call ended'}`,
  );
  if (r.mock !== undefined) {
    const m = r.mock;
    print(
      `openai mock: ${m.sessions} sessions, ${m.responses} responses (${m.cancelled} cancelled), ` +
        `${fmt(m.audioInMs / 1000, 0)} s audio in, ${fmt(m.audioOutMs / 1000, 0)} s out`,
    );
  }
  for (const f of c.failures) print(`call failure: ${f}`);
  if (s.logLineCount > 0) {
    print(`server log lines (warn+): ${s.logLineCount}; first:`);
    for (const line of s.logLines.slice(0, 5)) print(`  ${line}`);
  }
  print(r.verdict);
}

export function tableHeader(): string {
  return (
    '| calls | inst | calls/core | provider | server CPU % | CPU %/call | RSS KB/call | RTP lateness p50/p99 ms | server send p99/max ms | server ELD p99 ms | server CPU wait % | ' +
    'lost s→c | gaps | lost c→s | late c→s | client ticker p99/max ms | load avg (1 min) | result |\n' +
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|'
  );
}

export function tableRow(r: RunResult): string {
  const c = r.client;
  const s = r.server;
  return (
    `| ${c.established}/${r.options.calls} | ${r.options.instances} | ${fmt(s.callsPerCore, 0)} | ` +
    `${r.options.provider} | ${fmt(s.cpuPercent, 1)} | ` +
    `${fmt(s.cpuPerCallPercent, 3)} | ${fmt(s.rssPerCallKb, 0)} | ` +
    `${fmt(c.lateness.percentileMs(50), 1)} / ${fmt(c.lateness.percentileMs(99), 1)} | ` +
    `${s.ticker === undefined ? '–' : `${fmt(s.ticker.sendDoneP99Ms, 1)} / ${fmt(s.ticker.sendDoneMaxMs, 1)}`} | ` +
    `${fmt(s.eldP99Ms, 1)} | ` +
    `${fmt(s.runQueueWaitMs / 10 / r.windowS / r.options.instances, 1)} | ` +
    `${c.serverPacketsLost} | ${c.shortGapFrames} | ${s.rtpLost} | ${s.rtpLate} | ` +
    `${fmt(c.tickerLatenessP99Ms, 1)} / ${fmt(c.tickerLatenessMaxMs, 1)} | ` +
    `${fmt(r.loadBefore[0] ?? 0, 2)} → ${fmt(r.loadAfter[0] ?? 0, 2)} | ${r.passed ? 'pass' : 'FAIL'} |`
  );
}

/**
 * 1 → K instances at the same calls per instance: calls per core of server CPU for each K and its ratio to
 * K = 1 (1.00: the K-th instance costs what the first did, i.e. linear scaling while cores are free).
 * Only meaningful for runs that passed with a low CPU wait: a starved server skips ticks and so spends
 * less CPU per call, which inflates the figure (the CPU wait column says how starved each instance was).
 */
export function printScaling(
  results: readonly RunResult[],
  print: (line: string) => void,
  sameTotal = false,
): void {
  print(
    '\n| calls per instance | instances | calls | server CPU % | calls per core | vs 1 instance | ' +
      'failed calls | lost frames | proxy CPU % | CPU wait % | result |',
  );
  print('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const perInstance = r.options.calls / r.options.instances;
    // Compared with the one-instance run of the same total (--kamailio) or the same calls per instance.
    const baseCalls = sameTotal ? r.options.calls : perInstance;
    const base = results.find((x) => x.options.instances === 1 && x.options.calls === baseCalls);
    const ratio = base === undefined ? Number.NaN : r.server.callsPerCore / base.server.callsPerCore;
    print(
      `| ${perInstance} | ${r.options.instances} | ${r.client.established}/${r.options.calls} | ` +
        `${fmt(r.server.cpuPercent, 1)} | ${fmt(r.server.callsPerCore, 0)} | ${fmt(ratio, 2)} | ` +
        `${r.client.failed + r.client.endedByRemote} | ${r.lostFrames} | ` +
        `${r.proxy === undefined ? '–' : fmt(r.proxy.cpuPercent, 1)} | ` +
        `${fmt(r.server.runQueueWaitMs / 10 / r.windowS / r.options.instances, 1)} | ${r.passed ? 'pass' : 'FAIL'} |`,
    );
  }
}
