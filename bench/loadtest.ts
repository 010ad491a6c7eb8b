/**
 * `npm run loadtest -- --calls N --duration S [--provider echo|openai] [--ramp-ms M] [--instances K1,K2,…]`
 *
 * N concurrent calls from an in-repo SIP load client (this process: one EmbeddedSignaling, one Ticker, one
 * port pool, Softphone per call) to a Switchboard server in a separate process (`node dist/src/cli.js
 * serve`), each streaming a caller prompt in a loop so the agent answers every turn. Prints the server's
 * CPU and RSS per call and event-loop delay (from its /metrics), the lateness of the server's outbound RTP
 * measured at the client, and lost frames both ways. See bench/loadtest/README.md.
 *
 * `--sweep 50,100,200,400` runs each N in turn (fresh server each time) and stops at the first failure:
 * the largest passing N holds zero lost frames with p99 lateness under 10 ms (`--keep-going` runs them all).
 *
 * `--instances 1,2` runs each N once per instance count K: K server processes (the `serve --instances K`
 * layout: own SIP/HTTP ports, own RTP slice), N calls *per instance* spread round robin, and prints calls
 * per core of server CPU for each K and its ratio to K = 1 (1.00 = linear scaling).
 *
 * `--kamailio` puts the shipped Kamailio front (deploy/kamailio/kamailio.cfg) in front of the K instances:
 * every call dials the proxy and its dispatcher picks the instance. N is then the *total* (the same
 * concurrency for every K, e.g. `--sweep 100,200 --instances 1,2 --kamailio`), K ≤ 4.
 */
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/observability/logger.js';
import { printRun, printScaling, tableHeader, tableRow } from './loadtest/report.js';
import { runOnce, type Provider, type RunResult } from './loadtest/run-once.js';
import { fmt } from './util.js';
import { FRONT_MAX_INSTANCES } from './loadtest/kamailio-front.js';

const MAX_CALLS = 2000;
const MAX_DURATION_S = 300;
const MAX_RAMP_MS = 60_000;
const MAX_SWEEP_STEPS = 10;
const MAX_INSTANCES = 8;
/** Beyond ramp + settle + duration: establishing, hang-up, idle wait, server start/stop. */
const WATCHDOG_SLACK_MS = 120_000;

interface Args {
  readonly calls: number[];
  /** Instance counts; with more than one or K > 1, `calls` are per instance. */
  readonly instances: number[];
  /** Kamailio in front; `calls` are then totals. */
  readonly kamailio: boolean;
  readonly durationS: number;
  readonly provider: Provider;
  readonly rampMs: number | undefined;
  readonly settleMs: number;
  readonly pauseMs: number;
  /** With --sweep: run every N even after a failure (to chart the curve). */
  readonly keepGoing: boolean;
  /** The load client's RTP ports (one even port per call). */
  readonly clientRtp: { readonly min: number; readonly max: number };
}

function usage(message: string): never {
  process.stderr.write(
    `loadtest: ${message}\n` +
      'usage: npm run loadtest -- --calls N --duration S [--provider echo|openai] [--ramp-ms M]\n' +
      '                          [--sweep N1,N2,… [--keep-going]] [--settle-ms M] [--pause-ms M]\n' +
      '                          [--instances K1,K2,… (N calls per instance)]\n' +
      '                          [--kamailio (Kamailio in front of the K instances; N calls in total)]\n' +
      "                          [--rtp-ports MIN-MAX (the load client's RTP ports; default 40000-49999)]\n" +
      `limits: N ≤ ${MAX_CALLS} in total, S ≤ ${MAX_DURATION_S}, M ≤ ${MAX_RAMP_MS}, K ≤ ${MAX_INSTANCES}\n`,
  );
  process.exit(64); // EX_USAGE
}

function int(name: string, raw: string | undefined, min: number, max: number): number {
  const v = Number(raw);
  if (raw === undefined || !Number.isInteger(v) || v < min || v > max)
    usage(`${name} must be an integer in [${min}, ${max}]`);
  return v;
}

function parseArgs(argv: readonly string[]): Args {
  let calls: number[] = [];
  let instances: number[] = [1];
  let durationS = 20;
  let provider: Provider = 'echo';
  let rampMs: number | undefined;
  let settleMs = 3000;
  let pauseMs = 6000;
  let keepGoing = false;
  let kamailio = false;
  let clientRtp = { min: 40000, max: 49999 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    i++;
    switch (flag) {
      case '--calls':
        calls = [int('--calls', value, 1, MAX_CALLS)];
        break;
      case '--sweep':
        calls = (value ?? '').split(',').map((x) => int('--sweep entry', x.trim(), 1, MAX_CALLS));
        if (calls.length > MAX_SWEEP_STEPS) usage(`--sweep takes at most ${MAX_SWEEP_STEPS} values`);
        break;
      case '--instances':
        instances = (value ?? '').split(',').map((x) => int('--instances entry', x.trim(), 1, MAX_INSTANCES));
        if (instances.length > MAX_SWEEP_STEPS) usage(`--instances takes at most ${MAX_SWEEP_STEPS} values`);
        break;
      case '--duration':
        durationS = int('--duration', value, 1, MAX_DURATION_S);
        break;
      case '--provider':
        if (value !== 'echo' && value !== 'openai') usage('--provider is echo or openai');
        provider = value;
        break;
      case '--ramp-ms':
        rampMs = int('--ramp-ms', value, 0, MAX_RAMP_MS);
        break;
      case '--settle-ms':
        settleMs = int('--settle-ms', value, 0, 30_000);
        break;
      case '--pause-ms':
        pauseMs = int('--pause-ms', value, 0, 30_000);
        break;
      case '--keep-going':
        keepGoing = true;
        i--; // a flag without a value
        break;
      case '--kamailio':
        kamailio = true;
        i--;
        break;
      case '--rtp-ports': {
        const m = /^(\d{1,5})-(\d{1,5})$/.exec(value ?? '');
        const min = Number(m?.[1]);
        const max = Number(m?.[2]);
        if (m === null || min < 1024 || max > 65535 || max <= min)
          usage('--rtp-ports is MIN-MAX in 1024..65535');
        clientRtp = { min, max };
        break;
      }
      default:
        usage(`unknown argument ${String(flag)}`);
    }
  }
  if (calls.length === 0) usage('--calls or --sweep is required');
  if (kamailio && Math.max(...instances) > FRONT_MAX_INSTANCES)
    usage(`--kamailio takes at most ${FRONT_MAX_INSTANCES} instances`);
  if (!kamailio)
    for (const n of calls)
      if (n * Math.max(...instances) > MAX_CALLS) usage(`N × K must not exceed ${MAX_CALLS} calls`);
  const clientCalls = Math.max(...calls) * (kamailio ? 1 : Math.max(...instances));
  if (Math.floor((clientRtp.max - clientRtp.min + 1) / 2) < clientCalls)
    usage(
      `--rtp-ports ${clientRtp.min}-${clientRtp.max} holds fewer even ports than the ${clientCalls} calls`,
    );
  return { calls, instances, kamailio, durationS, provider, rampMs, settleMs, pauseMs, keepGoing, clientRtp };
}

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const args = parseArgs(process.argv.slice(2));
const here = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url));
const logger = createLogger({ level: 'error' });

print(
  `# switchboard loadtest — node ${process.version}, ${cpus().length} cpu(s): ${cpus()[0]?.model ?? '?'}, ` +
    `load average ${loadavg()
      .map((x) => fmt(x, 2))
      .join(' ')}`,
);
const results: RunResult[] = [];
let stop = false;
if (args.kamailio)
  print(
    '# through Kamailio (deploy/kamailio/kamailio.cfg): calls per core = calls ÷ (instance CPU seconds per wall ' +
      'second), instance CPU = process_cpu_seconds_total (user + system, all threads) from each instance’s ' +
      '/metrics at the window’s start and end; proxy CPU from /proc/<pid>/stat of its process tree. CPU time ' +
      'used, not wall time: other processes on the machine do not inflate it (they show as CPU wait).',
  );
for (const n of args.calls) {
  for (const instances of args.instances) {
    const calls = args.kamailio ? n : n * instances;
    const perInstance = calls / instances;
    // Default ramp: 10 ms per call (100 calls per second), at least 1 s; through Kamailio 25 ms per call
    // (40 per second over five source addresses stays well under its per-source pike limit).
    const rampMs = Math.min(MAX_RAMP_MS, args.rampMs ?? Math.max(1000, calls * (args.kamailio ? 25 : 10)));
    const watchdogMs = rampMs + args.settleMs + args.durationS * 1000 + WATCHDOG_SLACK_MS;
    const watchdog = setTimeout(() => {
      process.stderr.write(`loadtest: run of ${calls} calls exceeded ${watchdogMs} ms, giving up\n`);
      process.exit(2);
    }, watchdogMs);
    print(
      `\n## ${calls} calls` +
        (args.kamailio ? ' through Kamailio' : '') +
        (instances > 1 ? ` over ${instances} instances (${perInstance} each)` : '') +
        `, ${args.durationS} s, ${args.provider}`,
    );
    let result: RunResult;
    try {
      result = await runOnce({
        calls,
        instances,
        kamailio: args.kamailio,
        clientRtp: args.clientRtp,
        durationS: args.durationS,
        provider: args.provider,
        rampMs,
        settleMs: args.settleMs,
        pauseMs: args.pauseMs,
        promptPath: here('../../test/fixtures/audio/caller-billing-question.wav'),
        cliPath: here('../src/cli.js'),
        mockMainPath: here('./loadtest/openai-mock-main.js'),
        tickerProbePath: here('./loadtest/ticker-probe.js'),
        kamailioConfigPath: here('../../deploy/kamailio/kamailio.cfg'),
        logger,
        progress: print,
      });
    } catch (err) {
      // A peer that cannot start (Kamailio, a server) ends the load test with its reason, not a stack.
      process.stderr.write(`loadtest: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    } finally {
      clearTimeout(watchdog);
    }
    printRun(result, print);
    results.push(result);
    if (!result.passed && !args.keepGoing) stop = true;
    if (stop) break;
  }
  if (stop) break;
}

print('\n' + tableHeader());
for (const r of results) print(tableRow(r));
// The largest N such that it and every smaller N tried passed.
let held: number | undefined;
for (const r of [...results].sort((a, b) => a.options.calls - b.options.calls)) {
  if (!r.passed) break;
  held = r.options.calls;
}
if (args.instances.length > 1) printScaling(results, print, args.kamailio);
if (args.calls.length > 1 && args.instances.length === 1 && args.instances[0] === 1) {
  print(
    held !== undefined
      ? `\nlargest N held (it and every smaller N passed): ${held}`
      : '\nno N passed (zero lost frames and p99 lateness < 10 ms)',
  );
}
process.exit(results.every((r) => r.passed) ? 0 : 1);
