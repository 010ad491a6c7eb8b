/**
 * The server under test as a separate process: `node dist/src/cli.js serve` with its own temp DATA_DIR and
 * DIALPLANS_DIR, SIP on a free loopback port (UDP only), HTTP on another, and an RTP range wide enough for
 * every call. Its figures come from `GET /metrics` (prom-client default process metrics + call metrics), so
 * nothing measures the server from inside the load client's process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parsePrometheus, type Samples } from './prometheus.js';
import type { TickerProbeStats } from './ticker-probe.js';

export interface ServerProcessOptions {
  /** dist/src/cli.js */
  readonly cliPath: string;
  /** File name → YAML. */
  readonly dialplans: Readonly<Record<string, string>>;
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
  /** Loopback address of the SIP socket and the media (default 127.0.0.1; behind Kamailio, one each). */
  readonly sipHost?: string;
  readonly logLevel?: string;
  /** Lines of server output kept for the report (the rest is only counted). */
  readonly keepLogLines?: number;
  /** dist/bench/loadtest/ticker-probe.js, preloaded to read the server's own ticker stats over IPC. */
  readonly tickerProbePath?: string;
}

/** What one scrape of the server's /metrics says, in the units the report uses. */
export interface ServerSnapshot {
  readonly atMs: number;
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly activeCalls: number;
  readonly rtpLost: number;
  readonly rtpLate: number;
  readonly callsRejected: number;
  readonly agentErrors: number;
  readonly bargeIns: number;
  /** Event-loop delay since the previous scrape (prom-client resets its histogram on every scrape), seconds. */
  readonly eldP50Seconds: number;
  readonly eldP99Seconds: number;
  readonly eldMaxSeconds: number;
}

const PREFIX = 'switchboard_';
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

async function freeTcpPort(host: string): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, resolve);
  });
  const address = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function freeUdpPort(host: string): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, host, resolve));
  const port = sock.address().port;
  await new Promise<void>((resolve) => sock.close(resolve));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ServerProcess {
  readonly sipHost: string;
  readonly sipPort: number;
  readonly httpPort: number;
  readonly adminToken: string;
  /** Server output lines (warn and above at LOG_LEVEL warn), the first `keepLogLines`. */
  readonly logLines: string[] = [];
  logLineCount = 0;
  readonly #child: ChildProcess;
  readonly #root: string;
  readonly #keep: number;
  #exited: Promise<number | null>;
  #exitCode: number | null | undefined;
  /** If this process exits first (watchdog, crash), the server must not outlive it. */
  readonly #killOnExit = (): void => {
    this.#child.kill('SIGKILL');
    rmSync(this.#root, { recursive: true, force: true });
  };

  private constructor(
    child: ChildProcess,
    root: string,
    sipHost: string,
    sipPort: number,
    httpPort: number,
    adminToken: string,
    keep: number,
  ) {
    this.#child = child;
    this.#root = root;
    this.sipHost = sipHost;
    this.sipPort = sipPort;
    this.httpPort = httpPort;
    this.adminToken = adminToken;
    this.#keep = keep;
    process.once('exit', this.#killOnExit);
    this.#exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.#exitCode = code;
        resolve(code);
      }),
    );
    const collect = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        this.logLineCount++;
        if (this.logLines.length < this.#keep) this.logLines.push(line.slice(0, 400));
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
  }

  static async start(options: ServerProcessOptions): Promise<ServerProcess> {
    const host = options.sipHost ?? '127.0.0.1';
    const root = await mkdtemp(join(tmpdir(), 'sb-load-'));
    const dialplansDir = join(root, 'dialplans');
    await mkdir(dialplansDir, { recursive: true });
    for (const [name, text] of Object.entries(options.dialplans))
      await writeFile(join(dialplansDir, name), text);
    const sipPort = await freeUdpPort(host);
    const httpPort = await freeTcpPort(host);
    const adminToken = `load-${randomBytes(16).toString('hex')}`;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? root,
      SIP_HOST: host,
      SIP_PUBLIC_HOST: host,
      SIP_PORT: String(sipPort),
      SIP_TRANSPORTS: 'udp',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      RTP_PORT_MIN: String(options.rtpPortMin),
      RTP_PORT_MAX: String(options.rtpPortMax),
      DATA_DIR: join(root, 'data'),
      DIALPLANS_DIR: dialplansDir,
      RECORDINGS_DIR: join(root, 'recordings'),
      ADMIN_TOKEN: adminToken,
      LOG_LEVEL: options.logLevel ?? 'warn',
      // Every load-test call comes from one trusted address: lift the front door's per-source INVITE rate
      // and the call cap (issue 11 defaults: 10/s, burst 20, 1000 calls), or the ramp would meet 503s.
      SIP_INVITE_RATE: '100000',
      SIP_INVITE_BURST: '100000',
      SIP_MAX_CALLS: '100000',
    };
    // Diagnosis only, e.g. LOADTEST_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (see README).
    const nodeArgs = (process.env.LOADTEST_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    if (options.tickerProbePath !== undefined)
      nodeArgs.push('--import', pathToFileURL(options.tickerProbePath).href);
    const child = spawn(process.execPath, [...nodeArgs, options.cliPath, 'serve'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const server = new ServerProcess(
      child,
      root,
      host,
      sipPort,
      httpPort,
      adminToken,
      options.keepLogLines ?? 20,
    );
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (server.#exitCode !== undefined) {
        await server.#cleanup();
        throw new Error(
          `server exited with ${server.#exitCode} before it was ready: ${server.logLines.join('\n')}`,
        );
      }
      try {
        const res = await fetch(`${server.baseUrl}/healthz`);
        if (res.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error('server not ready within 20 s');
      }
      await sleep(100);
    }
    return server;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  uri(user: string): string {
    return `sip:${user}@${this.sipHost}:${this.sipPort}`;
  }

  async api(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: {
        authorization: `Bearer ${this.adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, text: await res.text() };
  }

  async metrics(): Promise<Samples> {
    const res = await this.api('GET', '/metrics');
    if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
    return parsePrometheus(res.text);
  }

  async snapshot(): Promise<ServerSnapshot> {
    const m = await this.metrics();
    const g = (name: string): number => m.get(PREFIX + name);
    const zero = (v: number): number => (Number.isNaN(v) ? 0 : v);
    return {
      atMs: performance.now(),
      cpuSeconds: g('process_cpu_seconds_total'),
      rssBytes: g('process_resident_memory_bytes'),
      heapUsedBytes: g('nodejs_heap_size_used_bytes'),
      activeCalls: zero(g('active_calls')),
      rtpLost: zero(g('rtp_lost_total')),
      rtpLate: zero(g('rtp_late_total')),
      callsRejected: zero(g('calls_rejected_total')),
      agentErrors: zero(g('agent_errors_total')),
      bargeIns: zero(g('barge_ins_total')),
      eldP50Seconds: g('nodejs_eventloop_lag_p50_seconds'),
      eldP99Seconds: g('nodejs_eventloop_lag_p99_seconds'),
      eldMaxSeconds: g('nodejs_eventloop_lag_max_seconds'),
    };
  }

  /** The server's own ticker stats (see ticker-probe.ts); `reset` starts a new window. */
  tickerProbe(op: 'reset' | 'stats'): Promise<TickerProbeStats | undefined> {
    const child = this.#child;
    if (!child.connected) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        child.off('message', onMessage);
        resolve(undefined);
      }, 3000);
      const onMessage = (msg: unknown): void => {
        const probe = (msg as { probe?: TickerProbeStats } | null)?.probe;
        if (probe === undefined) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(probe);
      };
      child.on('message', onMessage);
      child.send({ probe: op });
    });
  }

  /** Polls /metrics until no call is active (bounded). Returns the last snapshot. */
  async waitIdle(timeoutMs: number): Promise<ServerSnapshot> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const s = await this.snapshot();
      if (s.activeCalls === 0 || performance.now() > deadline) return s;
      await sleep(250);
    }
  }

  /** SIGTERM (graceful shutdown), SIGKILL after 10 s; removes the temp dirs. */
  async stop(): Promise<void> {
    if (this.#exitCode === undefined) {
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.#exited;
      clearTimeout(timer);
    }
    await this.#cleanup();
  }

  async #cleanup(): Promise<void> {
    process.off('exit', this.#killOnExit);
    await rm(this.#root, { recursive: true, force: true });
  }
}
