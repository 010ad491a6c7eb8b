/**
 * Kamailio (Debian `kamailio` 5.6) as a SIP proxy in front of the server under test: one foreground
 * process (`-DD -E`, logs on stderr) per test file, listening on one loopback UDP address, with a private
 * runtime/working dir, killed after. The config's `xlog` lines start with "PEER " (see
 * test/peers/kamailio/record-route-proxy.cfg); `requests()` parses them so tests can check which requests
 * crossed the proxy and what Route header they carried.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerProcess } from './peer-process.js';

export interface KamailioOptions {
  /** Absolute path of the routing script. */
  readonly config: string;
  /** A loopback address of its own (e.g. 127.0.0.30), never the server's. */
  readonly listenIp: string;
  readonly port: number;
  /** How long to wait for the first SIP worker (default 15 s). */
  readonly readyTimeoutMs?: number;
  /** `-A NAME=value` preprocessor defines (a shipped config's site settings, e.g. deploy/kamailio/). */
  readonly defines?: Readonly<Record<string, string>>;
  /** The config's `listen=` comes from `defines`: no `-l` on the command line. */
  readonly listenFromConfig?: boolean;
  /** The log line that says the first worker runs (default /PEER ready/). */
  readonly readyPattern?: RegExp;
}

/** One "PEER request …" line: a request the proxy received. */
export interface ProxiedRequest {
  readonly method: string;
  readonly requestUri: string;
  readonly source: string;
  readonly cseq: string;
  /** The Route header as received ("" when absent). */
  readonly route: string;
}

const REQUEST_LINE = /PEER request (\S+) (\S+) from (\S+) cseq=\[([^\]]*)\] route=\[([^\]]*)\]/g;

export class Kamailio {
  readonly address: string;
  readonly #process: PeerProcess;
  readonly #dir: string;

  private constructor(process: PeerProcess, dir: string, address: string) {
    this.#process = process;
    this.#dir = dir;
    this.address = address;
  }

  /** Starts kamailio and resolves once its first worker runs; throws (with the log) if it does not. */
  static async start(options: KamailioOptions): Promise<Kamailio> {
    const dir = await mkdtemp(join(tmpdir(), 'kamailio-'));
    const process = new PeerProcess({
      command: 'kamailio',
      args: [
        '-f',
        options.config,
        ...(options.listenFromConfig === true ? [] : ['-l', `udp:${options.listenIp}:${options.port}`]),
        ...Object.entries(options.defines ?? {}).flatMap(([name, value]) => ['-A', `${name}=${value}`]),
        '-DD',
        '-E',
        '-Y',
        dir,
        '-w',
        dir,
        '-P',
        join(dir, 'kamailio.pid'),
        // Small memory pools: a test proxy handles a few dialogs, and the machine is shared.
        '-m',
        '16',
        '-M',
        '4',
      ],
      cwd: dir,
    });
    const kamailio = new Kamailio(process, dir, `${options.listenIp}:${options.port}`);
    try {
      await process.waitFor(options.readyPattern ?? /PEER ready/, options.readyTimeoutMs ?? 15_000);
    } catch (err) {
      await kamailio.stop();
      throw err;
    }
    return kamailio;
  }

  /** Everything kamailio printed so far. */
  log(): string {
    return this.#process.output();
  }

  /** Requests the proxy received, in order; with `method`, only those. */
  requests(method?: string): ProxiedRequest[] {
    const out: ProxiedRequest[] = [];
    for (const m of this.log().matchAll(REQUEST_LINE)) {
      const [, rm = '', ru = '', source = '', cseq = '', route = ''] = m;
      if (method !== undefined && rm !== method) continue;
      out.push({ method: rm, requestUri: ru, source, cseq, route: route === '<null>' ? '' : route });
    }
    return out;
  }

  /** Waits for a log line matching `pattern` (e.g. the proxy relaying the server's BYE). */
  async waitForLog(pattern: RegExp, timeoutMs: number): Promise<string> {
    return (await this.#process.waitFor(pattern, timeoutMs))[0];
  }

  /** Position in the log; pass it to `waitForLogAfter` to match only lines printed afterwards. */
  logMark(): number {
    return this.#process.mark();
  }

  /** Like `waitForLog`, for a line printed after `mark` (see `logMark`). */
  async waitForLogAfter(pattern: RegExp, mark: number, timeoutMs: number): Promise<string> {
    return (await this.#process.waitFor(pattern, timeoutMs, mark))[0];
  }

  async stop(): Promise<void> {
    await this.#process.stop();
    await rm(this.#dir, { recursive: true, force: true });
  }
}
