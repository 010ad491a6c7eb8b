/**
 * `--kamailio`: the shipped Kamailio front (deploy/kamailio/kamailio.cfg, used as is; only its site
 * settings are `-A` defines, as in the README) in front of the load test's instances. The load client dials
 * the proxy; its dispatcher (round robin, OPTIONS keepalive) picks the instance; media flows directly
 * between the client and that instance, as in production. Self-contained (no test/support import) so that
 * `npm run build` compiles with only src/ and bench/, as in the Dockerfile's build stage.
 *
 * Fixed loopback addresses (the dispatcher's "is this request from an instance?" check ignores ports, so the
 * client must not share an address with an instance): the proxy on 127.0.0.170:57000, instance k on
 * 127.0.0.(171 + k) (ephemeral SIP port), the client's calls from 127.0.0.175–179. Five source addresses
 * keep each under the config's per-source flood limits (pike: 100 requests per 2 s; 100 new calls per
 * source per 10 s) at the default ramp, as five trunks would.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { processTreeCpuSeconds } from './proc-cpu.js';
import type { ServerProcess } from './server-process.js';

const run = promisify(execFile);

export const FRONT_PROXY_IP = '127.0.0.170';
export const FRONT_PROXY_PORT = 57000;
export const FRONT_MAX_INSTANCES = 4;
export const FRONT_CLIENT_IPS: readonly string[] = [
  '127.0.0.175',
  '127.0.0.176',
  '127.0.0.177',
  '127.0.0.178',
  '127.0.0.179',
];

/** SIP address of instance k behind the front. */
export function frontInstanceIp(k: number): string {
  if (k >= FRONT_MAX_INSTANCES) throw new Error(`at most ${FRONT_MAX_INSTANCES} instances behind the proxy`);
  return `127.0.0.${171 + k}`;
}

const READY_TIMEOUT_MS = 15_000;
const ACTIVE_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
/** Log kept, characters (the dispatch lines of a 2000-call run fit). */
const MAX_LOG_CHARS = 4_000_000;
/** "SBPROXY dispatch|failover INVITE … to sip:host:port": which instance got a new call. */
const DISPATCH_LINE = /SBPROXY (?:dispatch|failover) INVITE \S+ to sip:([^;\s]+)/g;
const PROBLEM_LINE = /SBPROXY (instance .* failed|pike|call rate limit|no (active )?instance)/;

export class KamailioFront {
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #ctl: string;
  #log = '';
  readonly #exited: Promise<void>;

  private constructor(child: ChildProcess, dir: string, ctl: string) {
    this.#child = child;
    this.#dir = dir;
    this.#ctl = ctl;
    const append = (d: Buffer): void => {
      if (this.#log.length < MAX_LOG_CHARS) this.#log += d.toString('utf8');
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.#exited = new Promise((resolve) => child.once('close', () => resolve()));
    process.once('exit', this.#killOnExit);
  }

  readonly #killOnExit = (): void => {
    this.#child.kill('SIGKILL');
  };

  /**
   * Starts kamailio with every instance in dispatcher set 1 (a private dispatcher.list, ctl socket and
   * runtime dir) and waits until each instance is active; throws with the log's tail if not (bounded).
   */
  static async start(instances: readonly ServerProcess[], config: string): Promise<KamailioFront> {
    const dir = await mkdtemp(join(tmpdir(), 'sb-load-kamailio-'));
    const list = join(dir, 'dispatcher.list');
    await writeFile(
      list,
      instances.map((s, k) => `1 sip:${s.sipHost}:${s.sipPort} 0 0 duid=load-${k}\n`).join(''),
    );
    const listen = `${FRONT_PROXY_IP}:${FRONT_PROXY_PORT}`;
    const ctl = `unix:${join(dir, 'kamailio_ctl')}`;
    const defines = {
      LISTEN: `udp:${listen}`,
      LISTEN_TCP: `tcp:${listen}`,
      DISPATCHER_LIST: `"${list}"`,
      CTL_SOCKET: `"${ctl}"`,
    };
    // Foreground (-DD), log on stderr (-E); 64 MB shared memory for a few hundred calls' transactions.
    const args = ['-f', config, ...Object.entries(defines).flatMap(([k, v]) => ['-A', `${k}=${v}`])];
    args.push('-DD', '-E', '-Y', dir, '-w', dir, '-P', join(dir, 'kamailio.pid'), '-m', '64', '-M', '4');
    const child = spawn('kamailio', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const front = new KamailioFront(child, dir, ctl);
    child.once('error', (err) => {
      front.#log += `\n[spawn error: ${err.message}]\n`;
    });
    try {
      await front.#waitUntil(async () => /SBPROXY ready/.test(front.#log), READY_TIMEOUT_MS, 'did not start');
      await front.#waitUntil(
        async () => {
          const states = await front.dispatcherStates().catch(() => new Map<string, string>());
          return [...states.values()].filter((flags) => flags.startsWith('A')).length === instances.length;
        },
        ACTIVE_TIMEOUT_MS,
        `did not mark all ${instances.length} instances active`,
      );
    } catch (err) {
      await front.stop();
      throw err;
    }
    return front;
  }

  async #waitUntil(ok: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!(await ok())) {
      if (this.#child.exitCode !== null || performance.now() > deadline)
        throw new Error(`Kamailio ${what} within ${timeoutMs} ms: ${this.#log.slice(-1500)}`);
      await sleep(200);
    }
  }

  /** `kamcmd dispatcher.list` over the ctl socket: URI → flags ("AP" active, "IP" inactive). */
  async dispatcherStates(): Promise<Map<string, string>> {
    const { stdout } = await run('kamcmd', ['-s', this.#ctl, 'dispatcher.list'], { timeout: 5000 });
    const states = new Map<string, string>();
    for (const m of stdout.matchAll(/URI: (\S+)\s+FLAGS: (\S+)/g)) states.set(m[1] ?? '', m[2] ?? '');
    return states;
  }

  /** The call's Request-URI: the proxy, which picks the instance. */
  uri(user: string): string {
    return `sip:${user}@${FRONT_PROXY_IP}:${FRONT_PROXY_PORT}`;
  }

  /** CPU seconds of Kamailio's whole process tree (main + workers), undefined without /proc. */
  cpuSeconds(): number | undefined {
    const pid = this.#child.pid;
    return pid === undefined ? undefined : processTreeCpuSeconds(pid);
  }

  /** New calls the proxy relayed per instance address (failovers included). */
  dispatchedPerInstance(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const m of this.#log.matchAll(DISPATCH_LINE))
      counts.set(m[1] ?? '', (counts.get(m[1] ?? '') ?? 0) + 1);
    return counts;
  }

  /** Kamailio's warnings and errors (failover, pike, rate limit, no instance), the first `max`. */
  problems(max: number): string[] {
    return this.#log
      .split('\n')
      .filter((l) => PROBLEM_LINE.test(l))
      .slice(0, max);
  }

  /** SIGTERM, SIGKILL after 5 s; removes the runtime dir. */
  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.#exited;
      clearTimeout(timer);
    }
    process.off('exit', this.#killOnExit);
    await rm(this.#dir, { recursive: true, force: true });
  }
}
