/**
 * Debian `dnsmasq` as the authoritative DNS server of a test: it listens on one loopback address and port,
 * answers only from the records given on its command line (NAPTR, SRV, A), answers NXDOMAIN for anything
 * else under `domain`, and logs every query it receives, so a test can count what reached it (TTL caching).
 * A dnsmasq that cannot start fails the test (no skip).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerProcess } from './peer-process.js';

export interface DnsmasqOptions {
  readonly address: string;
  readonly port: number;
  /** Names under it that have no record get NXDOMAIN instead of REFUSED (`--local=/domain/`). */
  readonly domain: string;
  /** TTL of every record (`--local-ttl`, seconds). */
  readonly ttlS: number;
  /** `{ name, order, preference, service, replacement }` → `--naptr-record` (flag "s", no regexp). */
  readonly naptr?: ReadonlyArray<{
    name: string;
    order: number;
    preference: number;
    service: string;
    replacement: string;
  }>;
  /** `--srv-host=<name>,<target>,<port>,<priority>,<weight>` */
  readonly srv?: ReadonlyArray<{
    name: string;
    target: string;
    port: number;
    priority: number;
    weight: number;
  }>;
  /** name → address: `--host-record=<name>,<address>` */
  readonly hosts?: Readonly<Record<string, string>>;
}

export interface Dnsmasq {
  readonly server: string;
  /** How many queries of `type` for `name` dnsmasq has received so far. */
  queries(type: string, name: string): number;
  transcript(): string;
  stop(): Promise<void>;
}

export function dnsmasqArgs(o: DnsmasqOptions): string[] {
  return [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--bind-interfaces',
    `--listen-address=${o.address}`,
    `--port=${o.port}`,
    `--local=/${o.domain}/`,
    `--local-ttl=${o.ttlS}`,
    '--log-queries',
    '--log-facility=-',
    '--pid-file=',
    ...(o.naptr ?? []).map(
      (n) => `--naptr-record=${n.name},${n.order},${n.preference},s,${n.service},,${n.replacement}`,
    ),
    ...(o.srv ?? []).map((s) => `--srv-host=${s.name},${s.target},${s.port},${s.priority},${s.weight}`),
    ...Object.entries(o.hosts ?? {}).map(([name, address]) => `--host-record=${name},${address}`),
  ];
}

export async function startDnsmasq(options: DnsmasqOptions): Promise<Dnsmasq> {
  const cwd = await mkdtemp(join(tmpdir(), 'dnsmasq-'));
  const peer = new PeerProcess({ command: 'dnsmasq', args: dnsmasqArgs(options), cwd });
  try {
    // dnsmasq binds its socket before it logs "started"; a bind failure exits with a message instead.
    await peer.waitFor(/started, version/, 10_000);
  } catch (err) {
    await peer.stop();
    await rm(cwd, { recursive: true, force: true });
    throw err;
  }
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return {
    server: `${options.address}:${options.port}`,
    queries: (type, name) =>
      peer.output().match(new RegExp(`query\\[${type}\\] ${escape(name)} from`, 'gi'))?.length ?? 0,
    transcript: () => peer.tail(6000),
    async stop() {
      await peer.stop();
      await rm(cwd, { recursive: true, force: true });
    },
  };
}
