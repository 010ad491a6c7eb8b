/**
 * One load-test run: mock (openai only) and server as child processes, N calls from this process, then the
 * figures. Every phase is bounded in time; the children are stopped whatever happens.
 */
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from '../../src/observability/logger.js';
import type { LatencyHistogram, TickerStats } from '../../src/media/ticker.js';
import { LoadClient, type LoadClientTotals } from './load-client.js';
import { ServerGroup } from './server-group.js';
import type { ServerSnapshot } from './server-process.js';
import type { LoadMockStats } from './openai-load-mock.js';
import { startMock } from './mock-process.js';
import { FRONT_CLIENT_IPS, KamailioFront, frontInstanceIp } from './kamailio-front.js';
import { readSchedStat, waitMsBetween } from './schedstat.js';
import type { TickerProbeStats } from './ticker-probe.js';

export type Provider = 'echo' | 'openai';

export interface RunOptions {
  /** Calls in total, spread round robin over the instances. */
  readonly calls: number;
  /** Server processes (one per core, like `serve --instances`), each with its own slice of the RTP range. */
  readonly instances: number;
  /** Kamailio (deploy/kamailio/kamailio.cfg) in front: calls go to the proxy, which spreads them. */
  readonly kamailio: boolean;
  /** The load client's RTP ports (default 40000–49999). */
  readonly clientRtp?: { readonly min: number; readonly max: number };
  readonly durationS: number;
  readonly provider: Provider;
  readonly rampMs: number;
  /** Time between the last call answered and the start of the measurement window. */
  readonly settleMs: number;
  readonly pauseMs: number;
  readonly promptPath: string;
  readonly cliPath: string;
  readonly mockMainPath: string;
  readonly tickerProbePath: string;
  /** deploy/kamailio/kamailio.cfg (with `kamailio`). */
  readonly kamailioConfigPath: string;
  readonly logger: Logger;
  readonly progress: (line: string) => void;
}

export interface RunResult {
  readonly options: Pick<
    RunOptions,
    'calls' | 'instances' | 'kamailio' | 'durationS' | 'provider' | 'rampMs'
  >;
  readonly windowS: number;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly server: {
    readonly cpuPercent: number;
    readonly cpuPerCallPercent: number;
    /** Each instance's CPU in the window, % of one core. */
    readonly instanceCpuPercent: readonly number[];
    /** Each instance's active calls at the end of the window. */
    readonly instanceCalls: readonly number[];
    /** All instances' CPU with no call up (before the ramp), % of one core. */
    readonly idleCpuPercent: number;
    /** Calls held per core of server CPU actually used: calls ÷ (server CPU % ÷ 100). */
    readonly callsPerCore: number;
    readonly rssBaselineMb: number;
    readonly rssLoadedMb: number;
    readonly rssPerCallKb: number;
    readonly heapLoadedMb: number;
    /** Event-loop delay in the window beyond prom-client's 10 ms sampling interval. */
    readonly eldP50Ms: number;
    readonly eldP99Ms: number;
    readonly eldMaxMs: number;
    /** Time the server's main thread was runnable but waiting for a CPU, in the window (Linux). */
    readonly runQueueWaitMs: number;
    /** The server's own ticker in the window (preloaded probe); undefined if the probe did not answer. */
    readonly ticker: TickerProbeStats | undefined;
    readonly rtpLost: number;
    readonly rtpLate: number;
    readonly callsRejected: number;
    readonly agentErrors: number;
    readonly bargeIns: number;
    readonly activeAtEnd: number;
    readonly logLines: readonly string[];
    readonly logLineCount: number;
  };
  readonly client: LoadClientTotals & {
    readonly tickerLatenessP50Ms: number;
    readonly tickerLatenessP99Ms: number;
    readonly tickerLatenessMaxMs: number;
    readonly tickerSkipped: number;
    readonly eldP99Ms: number;
    readonly eldMaxMs: number;
    readonly cpuPercent: number;
    readonly hungUpCleanly: boolean;
    /** Time the client's main thread was runnable but not running, in the window. */
    readonly runQueueWaitMs: number;
  };
  readonly mock: LoadMockStats | undefined;
  /** With --kamailio: the proxy's whole process tree (/proc), % of one core in the window. */
  readonly proxy:
    | {
        readonly cpuPercent: number;
        /** Its CPU from the first INVITE to the last call gone (set-up, keepalives, tear-down) per call, ms. */
        readonly runCpuMsPerCall: number;
        /** New calls it relayed per instance address (failovers included). */
        readonly dispatched: ReadonlyMap<string, number>;
        readonly problems: readonly string[];
      }
    | undefined;
  readonly lostFrames: number;
  readonly passed: boolean;
  readonly verdict: string;
}

/** prom-client samples event-loop delay every 10 ms and records whole intervals (monitorEventLoopDelay). */
const ELD_RESOLUTION_MS = 10;
const HANGUP_TIMEOUT_MS = 20_000;
const IDLE_TIMEOUT_MS = 15_000;
const ESTABLISH_GRACE_MS = 20_000;
const IDLE_WINDOW_MS = 2_000;
const LATENESS_LIMIT_MS = 10;
/** Above this share of the window spent waiting for a CPU, the run says the machine, not the server, was busy. */
const CONTENDED_WAIT_PERCENT = 10;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const ECHO_DIALPLAN = `# load test: every number answered by the local echo agent
tenant: load
numbers: ['*']
agent:
  provider: echo
  greeting: 'load test'
  barge_in: { enabled: true }
  limits: { max_duration_s: 3600, idle_timeout_s: 120 }
  record: false
`;

const OPENAI_DIALPLAN = `# load test: every number answered by OpenAI Realtime (a local mock)
tenant: load
numbers: ['*']
agent:
  provider: openai
  instructions: 'You are a load test.'
  barge_in: { enabled: true }
  limits: { max_duration_s: 3600, idle_timeout_s: 120 }
  record: false
`;

const mb = (bytes: number): number => bytes / (1024 * 1024);
/** CPU between two scrapes of the same server (or group), % of one core. */
const cpuPercentBetween = (a: ServerSnapshot, b: ServerSnapshot): number =>
  ((b.cpuSeconds - a.cpuSeconds) / ((b.atMs - a.atMs) / 1000)) * 100;
const eldMs = (seconds: number): number => Math.max(0, seconds * 1000 - ELD_RESOLUTION_MS);

export async function runOnce(o: RunOptions): Promise<RunResult> {
  const loadBefore = loadavg();
  const apiKey = 'sk-load-test';
  const mock = o.provider === 'openai' ? await startMock(o.mockMainPath, apiKey) : undefined;
  // Server RTP: 20000–29999; client: 40000–49999 unless --rtp-ports (each call takes an even port, RFC 3550 §11).
  let server: ServerGroup | undefined;
  let front: KamailioFront | undefined;
  const client = new LoadClient({
    logger: o.logger,
    hosts: o.kamailio ? FRONT_CLIENT_IPS : ['127.0.0.1'],
    rtpPortMin: o.clientRtp?.min ?? 40000,
    rtpPortMax: o.clientRtp?.max ?? 49999,
    promptPath: o.promptPath,
    pauseMs: o.pauseMs,
  });
  try {
    server = await ServerGroup.start({
      instances: o.instances,
      cliPath: o.cliPath,
      dialplans: { 'load.yaml': o.provider === 'openai' ? OPENAI_DIALPLAN : ECHO_DIALPLAN },
      rtpPortMin: 20000,
      rtpPortMax: 29999,
      tickerProbePath: o.tickerProbePath,
      ...(o.kamailio ? { sipHosts: Array.from({ length: o.instances }, (_, k) => frontInstanceIp(k)) } : {}),
    });
    if (o.kamailio) front = await KamailioFront.start(server.members, o.kamailioConfigPath);
    if (mock !== undefined) {
      const put = await server.apiAll('PUT', '/v1/tenants/load/credentials/openai', {
        apiKey,
        url: mock.url,
      });
      if (put.status >= 300) throw new Error(`storing the credential: ${put.status} ${put.text}`);
    }
    await client.start();
    await sleep(500);
    // The instances' own cost with no call up (ticker idle, keepalives, scrapes), to set calls against.
    const idle0 = await server.snapshot();
    await sleep(IDLE_WINDOW_MS);
    const s0 = await server.snapshot();
    const proxyRunCpu0 = front?.cpuSeconds();

    // The load client's own clock and event loop are watched for the whole run (ramp included): a stall
    // there delays every call's packets at once and shows up as 'late' in the server's jitter buffers.
    client.ticker.resetStats();
    const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
    eld.enable();
    // Ramp: one INVITE every rampMs / N.
    const spacingMs = o.calls > 1 ? o.rampMs / o.calls : 0;
    const rampStart = performance.now();
    for (let i = 0; i < o.calls; i++) {
      const due = rampStart + i * spacingMs;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      client.place(front?.uri(`load${i}`) ?? server.uri(`load${i}`, i));
    }
    const establishDeadline = performance.now() + ESTABLISH_GRACE_MS;
    while (client.settled < o.calls && performance.now() < establishDeadline) await sleep(100);
    o.progress(
      `  ${client.established}/${o.calls} calls up after ${Math.round(performance.now() - rampStart)} ms`,
    );
    await sleep(o.settleMs);

    // Measurement window.
    const i1 = await server.snapshots();
    const s1 = ServerGroup.combine(i1);
    await server.tickerProbe('reset');
    client.setMeasuring(true);
    const serverSched0 = server.schedStats();
    const clientSched0 = readSchedStat(process.pid);
    const cpu0 = process.cpuUsage();
    const proxyCpu0 = front?.cpuSeconds();
    const t0 = performance.now();
    await sleep(o.durationS * 1000);
    const i2 = await server.snapshots();
    const s2 = ServerGroup.combine(i2);
    const serverTicker = await server.tickerProbe('stats');
    const windowMs = performance.now() - t0;
    const proxyCpu1 = front?.cpuSeconds();
    const cpu = process.cpuUsage(cpu0);
    const serverWaitMs = ServerGroup.waitMs(serverSched0, server.schedStats());
    const clientWaitMs = waitMsBetween(clientSched0, readSchedStat(process.pid));
    client.setMeasuring(false);
    const tick: TickerStats = client.ticker.stats();
    const tickerP50 = tick.lateness.percentileMs(50);
    const tickerP99 = tick.lateness.percentileMs(99);
    const tickerMax = tick.lateness.maxMs;
    const tickerSkipped = tick.skippedTicks;
    eld.disable();

    const hungUpCleanly = await client.hangupAll(HANGUP_TIMEOUT_MS);
    const s3 = await server.waitIdle(IDLE_TIMEOUT_MS);
    const proxyRunCpu1 = front?.cpuSeconds();
    const mockStats = await mock?.stats();
    const totals = client.totals();
    return summarize(o, {
      s0,
      s1,
      s2,
      s3,
      instanceCpuPercent: i2.map((b, k) => cpuPercentBetween(i1[k]!, b)),
      instanceCalls: i2.map((b) => b.activeCalls),
      idleCpuPercent: cpuPercentBetween(idle0, s0),
      windowMs,
      totals,
      server,
      client: {
        tickerLatenessP50Ms: tickerP50,
        tickerLatenessP99Ms: tickerP99,
        tickerLatenessMaxMs: tickerMax,
        tickerSkipped,
        eldP99Ms: Math.max(0, eld.percentile(99) / 1e6 - ELD_RESOLUTION_MS),
        eldMaxMs: Math.max(0, eld.max / 1e6 - ELD_RESOLUTION_MS),
        cpuPercent: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
        hungUpCleanly,
        runQueueWaitMs: clientWaitMs,
      },
      serverWaitMs,
      serverTicker,
      mock: mockStats,
      proxy:
        front === undefined
          ? undefined
          : {
              cpuPercent:
                proxyCpu0 === undefined || proxyCpu1 === undefined
                  ? Number.NaN
                  : ((proxyCpu1 - proxyCpu0) / (windowMs / 1000)) * 100,
              runCpuMsPerCall:
                proxyRunCpu0 === undefined || proxyRunCpu1 === undefined
                  ? Number.NaN
                  : ((proxyRunCpu1 - proxyRunCpu0) * 1000) / Math.max(1, totals.established),
              dispatched: front.dispatchedPerInstance(),
              problems: front.problems(5),
            },
      loadBefore,
    });
  } finally {
    await client.close().catch(() => undefined);
    await front?.stop();
    await server?.stop();
    mock?.stop();
  }
}

interface Collected {
  readonly s0: ServerSnapshot;
  readonly s1: ServerSnapshot;
  readonly s2: ServerSnapshot;
  readonly s3: ServerSnapshot;
  readonly instanceCpuPercent: readonly number[];
  readonly instanceCalls: readonly number[];
  readonly idleCpuPercent: number;
  readonly windowMs: number;
  readonly totals: LoadClientTotals;
  readonly server: ServerGroup;
  readonly client: Omit<RunResult['client'], keyof LoadClientTotals>;
  readonly mock: LoadMockStats | undefined;
  readonly proxy: RunResult['proxy'];
  readonly loadBefore: readonly number[];
  readonly serverWaitMs: number;
  readonly serverTicker: TickerProbeStats | undefined;
}

function summarize(o: RunOptions, c: Collected): RunResult {
  const { s0, s1, s2, s3, totals } = c;
  const windowS = c.windowMs / 1000;
  const n = Math.max(1, totals.established);
  const cpuPercent = cpuPercentBetween(s1, s2);
  const lateness: LatencyHistogram = totals.lateness;
  const p99 = lateness.percentileMs(99);
  const rtpLost = s3.rtpLost - s0.rtpLost;
  const rtpLate = s3.rtpLate - s0.rtpLate;
  // Late packets arrived but after their playout slot: counted apart (README, finding 3: they occur at any load).
  const lostFrames = totals.serverPacketsLost + totals.shortGapFrames + rtpLost;
  const problems: string[] = [];
  if (totals.established < o.calls) problems.push(`${o.calls - totals.established} calls not established`);
  if (totals.endedByRemote > 0) problems.push(`${totals.endedByRemote} calls ended by the server`);
  if (lostFrames > 0) problems.push(`${lostFrames} lost frames`);
  // The gate is the server's own send lateness (tick deadline → last packet of the tick sent, see
  // ticker-probe.ts) when the probe answered: the client-measured figure also carries the load client's
  // event-loop delay, which on a shared 2-core machine is as large as the server's. Both are printed.
  const serverP99 = c.serverTicker?.sendDoneP99Ms;
  const gateP99 = serverP99 ?? p99;
  const gateName = serverP99 === undefined ? 'client-measured' : 'server send';
  if (!(gateP99 < LATENESS_LIMIT_MS))
    problems.push(`${gateName} p99 lateness ${gateP99.toFixed(1)} ms ≥ ${LATENESS_LIMIT_MS} ms`);
  const notes: string[] = [];
  // Per instance (the wait is summed over the instances' main threads).
  const waitPercent = c.serverWaitMs / 10 / windowS / o.instances;
  if (waitPercent > CONTENDED_WAIT_PERCENT)
    notes.push(
      `machine contended: the server's main thread${o.instances > 1 ? 's' : ''} waited ${waitPercent.toFixed(0)} % of the window for a CPU`,
    );
  if (serverP99 !== undefined && !(p99 < LATENESS_LIMIT_MS))
    notes.push(`client-measured p99 ${p99.toFixed(1)} ms ≥ ${LATENESS_LIMIT_MS} ms`);
  if (lateness.count === 0) problems.push('no server audio measured');
  if (s3.activeCalls > 0) problems.push(`${s3.activeCalls} calls still active on the server`);
  return {
    options: {
      calls: o.calls,
      instances: o.instances,
      kamailio: o.kamailio,
      durationS: o.durationS,
      provider: o.provider,
      rampMs: o.rampMs,
    },
    windowS,
    loadBefore: c.loadBefore,
    loadAfter: loadavg(),
    server: {
      cpuPercent,
      cpuPerCallPercent: cpuPercent / n,
      instanceCpuPercent: c.instanceCpuPercent,
      instanceCalls: c.instanceCalls,
      idleCpuPercent: c.idleCpuPercent,
      callsPerCore: cpuPercent > 0 ? totals.established / (cpuPercent / 100) : Number.NaN,
      rssBaselineMb: mb(s0.rssBytes),
      rssLoadedMb: mb(s2.rssBytes),
      rssPerCallKb: (s2.rssBytes - s0.rssBytes) / 1024 / n,
      heapLoadedMb: mb(s2.heapUsedBytes),
      eldP50Ms: eldMs(s2.eldP50Seconds),
      eldP99Ms: eldMs(s2.eldP99Seconds),
      eldMaxMs: eldMs(s2.eldMaxSeconds),
      runQueueWaitMs: c.serverWaitMs,
      ticker: c.serverTicker,
      rtpLost,
      rtpLate,
      callsRejected: s3.callsRejected - s0.callsRejected,
      agentErrors: s3.agentErrors - s0.agentErrors,
      bargeIns: s3.bargeIns - s0.bargeIns,
      activeAtEnd: s3.activeCalls,
      logLines: c.server.logLines,
      logLineCount: c.server.logLineCount,
    },
    client: { ...totals, ...c.client },
    mock: c.mock,
    proxy: c.proxy,
    lostFrames,
    passed: problems.length === 0,
    verdict:
      (problems.length === 0 ? 'PASS' : `FAIL: ${problems.join('; ')}`) +
      (notes.length === 0 ? '' : ` (note: ${notes.join('; ')})`),
  };
}
