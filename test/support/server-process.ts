/**
 * The production server as a real child process: `node dist/src/cli.js serve` (built once per test run by
 * test/global-setup.ts) with temp DATA_DIR, DIALPLANS_DIR and RECORDINGS_DIR, SIP on a given address and port
 * (UDP), HTTP on a given or spare port, and an RTP range. For what only a process can show: signals, exit
 * codes, a crash (SIGKILL) while Redis holds its calls. Its output is kept (JSON log lines) for `logs()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sparePort } from './redis-server.js';

/** dist/src/cli.js of this checkout. */
export const CLI_PATH = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

export interface ServerProcessOptions {
  /** File name → YAML text, written to DIALPLANS_DIR. */
  readonly dialplans?: Readonly<Record<string, string>>;
  /** SIP listen address (also SIP_PUBLIC_HOST); default 127.0.0.1. */
  readonly sipHost?: string;
  /** SIP port (UDP); required: a fixed port from the test file's block. */
  readonly sipPort: number;
  /** HTTP port on 127.0.0.1; default a spare one. */
  readonly httpPort?: number;
  /** RTP range; default 200 ports drawn from 20000–41099 like startTestServer. */
  readonly rtpPortMin?: number;
  readonly rtpPortMax?: number;
  readonly redisUrl?: string;
  /** REDIS_KEY_PREFIX: instances of one test share it; tests use a unique one. */
  readonly redisKeyPrefix?: string;
  /** Reuse directories (a restart, or a second instance sharing the data). */
  readonly dataDir?: string;
  readonly recordingsDir?: string;
  readonly adminToken?: string;
  readonly logLevel?: string;
  /** Further environment (wins over everything above). */
  readonly env?: Readonly<Record<string, string>>;
}

export type ProcessExit = { readonly code: number | null; readonly signal: NodeJS.Signals | null };

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly json: any;
}

const MAX_LOG_LINES = 20_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ServerProcess {
  readonly sipHost: string;
  readonly sipPort: number;
  readonly httpPort: number;
  readonly adminToken: string;
  readonly dataDir: string;
  readonly recordingsDir: string;
  readonly dialplansDir: string;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  readonly #child: ChildProcess;
  readonly #root: string;
  readonly #lines: string[] = [];
  #exit: ProcessExit | undefined;
  /** If the test process dies first, the server must not outlive it. */
  readonly #killOnExit = (): void => {
    this.#child.kill('SIGKILL');
    rmSync(this.#root, { recursive: true, force: true });
  };

  private constructor(
    child: ChildProcess,
    root: string,
    fields: Pick<
      ServerProcess,
      'sipHost' | 'sipPort' | 'httpPort' | 'adminToken' | 'dataDir' | 'recordingsDir' | 'dialplansDir'
    >,
  ) {
    this.#child = child;
    this.#root = root;
    this.sipHost = fields.sipHost;
    this.sipPort = fields.sipPort;
    this.httpPort = fields.httpPort;
    this.adminToken = fields.adminToken;
    this.dataDir = fields.dataDir;
    this.recordingsDir = fields.recordingsDir;
    this.dialplansDir = fields.dialplansDir;
    process.once('exit', this.#killOnExit);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        process.off('exit', this.#killOnExit);
        resolve(this.#exit);
      }),
    );
    let partial = '';
    const collect = (chunk: Buffer): void => {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line.trim() !== '' && this.#lines.length < MAX_LOG_LINES) this.#lines.push(line);
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
  }

  /** Spawns the server (does not wait: call `ready()`). */
  static async start(options: ServerProcessOptions): Promise<ServerProcess> {
    const root = await mkdtemp(join(tmpdir(), 'sb-proc-'));
    const dialplansDir = join(root, 'dialplans');
    const dataDir = options.dataDir ?? join(root, 'data');
    const recordingsDir = options.recordingsDir ?? join(root, 'recordings');
    await mkdir(dialplansDir, { recursive: true });
    for (const [name, text] of Object.entries(options.dialplans ?? {}))
      await writeFile(join(dialplansDir, name), text);
    const sipHost = options.sipHost ?? '127.0.0.1';
    const httpPort = options.httpPort ?? (await sparePort());
    const adminToken = options.adminToken ?? `admin-${randomBytes(12).toString('hex')}`;
    const rtpBase = 20000 + randomInt(0, 211) * 100;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? root,
      SIP_HOST: sipHost,
      SIP_PUBLIC_HOST: sipHost,
      SIP_PORT: String(options.sipPort),
      SIP_TRANSPORTS: 'udp',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      RTP_PORT_MIN: String(options.rtpPortMin ?? rtpBase),
      RTP_PORT_MAX: String(options.rtpPortMax ?? rtpBase + 199),
      DATA_DIR: dataDir,
      DIALPLANS_DIR: dialplansDir,
      RECORDINGS_DIR: recordingsDir,
      ADMIN_TOKEN: adminToken,
      LOG_LEVEL: options.logLevel ?? 'debug',
      ...(options.redisUrl === undefined ? {} : { REDIS_URL: options.redisUrl }),
      ...(options.redisKeyPrefix === undefined ? {} : { REDIS_KEY_PREFIX: options.redisKeyPrefix }),
      ...options.env,
    };
    const child = spawn(process.execPath, [CLI_PATH, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    return new ServerProcess(child, root, {
      sipHost,
      sipPort: options.sipPort,
      httpPort,
      adminToken,
      dataDir,
      recordingsDir,
      dialplansDir,
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** The exit, once it happened. */
  get exit(): ProcessExit | undefined {
    return this.#exit;
  }

  /** `sip:<user>@<sipHost>:<sipPort>` */
  uri(user: string): string {
    return `sip:${user}@${this.sipHost}:${this.sipPort}`;
  }

  /** Polls GET /readyz until 200 (bounded); throws with the server's output if it exits or times out. */
  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#exit !== undefined)
        throw new Error(
          `server exited (${JSON.stringify(this.#exit)}) before it was ready:\n${this.logs().join('\n')}`,
        );
      try {
        const res = await fetch(`${this.baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(`server not ready within ${timeoutMs} ms:\n${this.logs().slice(-40).join('\n')}`);
      await sleep(100);
    }
  }

  /** A JSON request to the control API, with the admin token unless another (or null: none) is given. */
  async api(
    method: string,
    path: string,
    body?: unknown,
    token: string | null = this.adminToken,
  ): Promise<ApiResponse> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON (e.g. /metrics): the text itself
    }
    return { status: res.status, headers: res.headers, json };
  }

  /** Sends a signal; false when the process is gone already. */
  signal(sig: NodeJS.Signals): boolean {
    if (this.#exit !== undefined) return false;
    return this.#child.kill(sig);
  }

  /** SIGKILL (a crash) and waits for the exit. */
  async kill9(): Promise<ProcessExit> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** Output lines so far (pino JSON, and anything written to stderr). */
  logs(): string[] {
    return [...this.#lines];
  }

  /** Parsed JSON log lines whose `msg` equals the given one. */
  logsWithMsg(msg: string): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const line of this.#lines) {
      if (!line.includes(msg)) continue;
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === msg) out.push(entry);
      } catch {
        // not a JSON line
      }
    }
    return out;
  }

  /**
   * Ends the process if still running and removes its temp dirs (not the data/recordings dirs the caller
   * passed in): SIGTERM (drain), a second SIGTERM after `graceMs / 2` (stop at once), SIGKILL after
   * `graceMs`. Safe to call twice.
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.#exit === undefined) {
      this.signal('SIGTERM');
      const again = setTimeout(() => this.signal('SIGTERM'), graceMs / 2);
      const kill = setTimeout(() => this.signal('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(again);
      clearTimeout(kill);
    }
    await rm(this.#root, { recursive: true, force: true });
  }
}

/** Starts a server process and waits until it is ready (closing it again if it never gets there). */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const server = await ServerProcess.start(options);
  try {
    await server.ready();
  } catch (err) {
    await server.close(1000);
    throw err;
  }
  return server;
}
