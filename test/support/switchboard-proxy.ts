/**
 * The shipped Kamailio front (deploy/kamailio/kamailio.cfg) in front of Switchboard instances, for the
 * cluster tests: the config file is used as is, only its site settings are given as `-A` defines (listen
 * address, dispatcher list path). The dispatcher list is written like deploy/kamailio/dispatcher.list,
 * one `sip:host:port` per instance, into a private temp dir. Its log lines start with "SBPROXY"; the
 * helpers here parse the ones the tests assert on.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kamailio } from './kamailio.js';

const run = promisify(execFile);

export const SHIPPED_KAMAILIO_CFG = fileURLToPath(
  new URL('../../deploy/kamailio/kamailio.cfg', import.meta.url),
);

export interface ProxiedInstance {
  /** `host:port` of the instance's SIP socket (what dispatcher.list names). */
  readonly address: string;
  /** The duid attribute (a name for logs). */
  readonly name: string;
}

export interface SwitchboardProxyOptions {
  readonly listenIp: string;
  readonly port: number;
  readonly instances: readonly ProxiedInstance[];
}

/** One "SBPROXY dispatch INVITE … to sip:host:port …" line: which instance got a new call. */
const DISPATCH_LINE = /SBPROXY (?:dispatch|failover) INVITE \S+ to sip:([^;\s]+)/g;
/** One "SBPROXY in-dialog BYE loose-routed to <ruri> du=[…] from <source>" line. */
const BYE_LINE = /SBPROXY in-dialog BYE loose-routed to (\S+) du=\[[^\]]*\] from (\S+)/g;

export interface RoutedBye {
  readonly requestUri: string;
  /** Who sent it (`ip:port`). */
  readonly source: string;
}

export class SwitchboardProxy {
  readonly kamailio: Kamailio;
  readonly #dir: string;
  readonly #ctl: string;

  private constructor(kamailio: Kamailio, dir: string, ctl: string) {
    this.kamailio = kamailio;
    this.#dir = dir;
    this.#ctl = ctl;
  }

  static async start(options: SwitchboardProxyOptions): Promise<SwitchboardProxy> {
    const dir = await mkdtemp(join(tmpdir(), 'sbproxy-'));
    const list = join(dir, 'dispatcher.list');
    await writeFile(list, options.instances.map((i) => `1 sip:${i.address} 0 0 duid=${i.name}\n`).join(''));
    const listen = `${options.listenIp}:${options.port}`;
    const ctl = `unix:${join(dir, 'kamailio_ctl')}`;
    try {
      const kamailio = await Kamailio.start({
        config: SHIPPED_KAMAILIO_CFG,
        listenIp: options.listenIp,
        port: options.port,
        listenFromConfig: true,
        defines: {
          LISTEN: `udp:${listen}`,
          LISTEN_TCP: `tcp:${listen}`,
          DISPATCHER_LIST: `"${list}"`,
          CTL_SOCKET: `"${ctl}"`,
        },
        readyPattern: /SBPROXY ready/,
      });
      return new SwitchboardProxy(kamailio, dir, ctl);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get address(): string {
    return this.kamailio.address;
  }

  log(): string {
    return this.kamailio.log();
  }

  /** For each new call the proxy relayed (failovers included), the `host:port` of the instance it chose. */
  dispatched(): string[] {
    return [...this.log().matchAll(DISPATCH_LINE)].map((m) => m[1] ?? '');
  }

  /** BYEs the proxy loose-routed, in order. */
  byes(): RoutedBye[] {
    return [...this.log().matchAll(BYE_LINE)].map((m) => ({
      requestUri: m[1] ?? '',
      source: m[2] ?? '',
    }));
  }

  /**
   * The dispatcher's view of each destination (`kamcmd dispatcher.list` over the ctl socket): URI →
   * flags, e.g. "AP" (active, probing) or "IP" (inactive, probing).
   */
  async dispatcherStates(): Promise<Map<string, string>> {
    const { stdout } = await run('kamcmd', ['-s', this.#ctl, 'dispatcher.list'], { timeout: 5000 });
    const states = new Map<string, string>();
    for (const m of stdout.matchAll(/URI: (\S+)\s+FLAGS: (\S+)/g)) states.set(m[1] ?? '', m[2] ?? '');
    return states;
  }

  async stop(): Promise<void> {
    await this.kamailio.stop();
    await rm(this.#dir, { recursive: true, force: true });
  }
}
