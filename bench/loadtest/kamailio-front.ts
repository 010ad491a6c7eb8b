/**
 * `--kamailio`: the shipped Kamailio front (deploy/kamailio/kamailio.cfg, used as is, through
 * test/support/switchboard-proxy.ts) in front of the load test's instances. The load client dials the
 * proxy; its dispatcher (round robin, OPTIONS keepalive) picks the instance; media flows directly between
 * the client and that instance, as in production.
 *
 * Fixed loopback addresses (the dispatcher's "is this request from an instance?" check ignores ports, so the
 * client must not share an address with an instance): the proxy on 127.0.0.170:57000, instance k on
 * 127.0.0.(171 + k) (ephemeral SIP port), the client's calls from 127.0.0.175–179. Five source addresses
 * keep each under the config's per-source flood limits (pike: 100 requests per 2 s; 100 new calls per
 * source per 10 s) at the default ramp, as five trunks would.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SwitchboardProxy } from '../../test/support/switchboard-proxy.js';
import { processTreeCpuSeconds } from './proc-cpu.js';
import type { ServerProcess } from './server-process.js';

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

const ACTIVE_TIMEOUT_MS = 15_000;
/** A few hundred calls' transactions at once: more than the 16 MB test default. */
const SHARED_MEMORY_MB = 64;

export class KamailioFront {
  readonly #proxy: SwitchboardProxy;

  private constructor(proxy: SwitchboardProxy) {
    this.#proxy = proxy;
  }

  /** Starts the proxy with every instance in dispatcher set 1 and waits until each is active (bounded). */
  static async start(instances: readonly ServerProcess[], config: string): Promise<KamailioFront> {
    const proxy = await SwitchboardProxy.start({
      config,
      listenIp: FRONT_PROXY_IP,
      port: FRONT_PROXY_PORT,
      instances: instances.map((s, k) => ({ address: `${s.sipHost}:${s.sipPort}`, name: `load-${k}` })),
      sharedMemoryMb: SHARED_MEMORY_MB,
    });
    const deadline = performance.now() + ACTIVE_TIMEOUT_MS;
    for (;;) {
      const states = await proxy.dispatcherStates().catch(() => new Map<string, string>());
      const active = [...states.values()].filter((flags) => flags.startsWith('A')).length;
      if (active === instances.length) return new KamailioFront(proxy);
      if (performance.now() > deadline) {
        await proxy.stop();
        throw new Error(
          `Kamailio: ${active}/${instances.length} instances active after ${ACTIVE_TIMEOUT_MS} ms ` +
            `(${[...states].map(([uri, f]) => `${uri} ${f}`).join(', ')})`,
        );
      }
      await sleep(250);
    }
  }

  /** The call's Request-URI: the proxy, which picks the instance. */
  uri(user: string): string {
    return `sip:${user}@${FRONT_PROXY_IP}:${FRONT_PROXY_PORT}`;
  }

  /** CPU seconds of Kamailio's whole process tree (main + workers), undefined without /proc. */
  cpuSeconds(): number | undefined {
    const pid = this.#proxy.kamailio.pid;
    return pid === undefined ? undefined : processTreeCpuSeconds(pid);
  }

  /** New calls the proxy relayed per instance address (failovers included). */
  dispatchedPerInstance(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const to of this.#proxy.dispatched()) counts.set(to, (counts.get(to) ?? 0) + 1);
    return counts;
  }

  /** Kamailio's warnings and errors (failover, pike, rate limit, no instance), the first `max`. */
  problems(max: number): string[] {
    return this.#proxy
      .log()
      .split('\n')
      .filter((l) => /SBPROXY (instance .* failed|pike|call rate limit|no (active )?instance)/.test(l))
      .slice(0, max);
  }

  stop(): Promise<void> {
    return this.#proxy.stop();
  }
}
