/**
 * Production server processes behind the shipped Kamailio front (test/support/switchboard-proxy.ts), for
 * the tests that kill, drain and restart instances: one process per instance on its own loopback
 * address and fixed port, all sharing the real Redis under one test's prefix, an echo dialplan, and
 * helpers that read what the processes and sipp report.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startServerProcess, type ServerProcess } from './server-process.js';
import type { SippOptions, SippResult } from './sipp.js';

export const CLUSTER_REDIS_URL = 'redis://127.0.0.1:6379';

export interface SipAt {
  readonly ip: string;
  readonly port: number;
}

export const ECHO_DIALPLAN = {
  'demo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, tools: { end_call: {} } }\n',
};

/** What every instance of one cluster shares. */
export interface ClusterShared {
  readonly prefix: string;
  readonly env: Readonly<Record<string, string>>;
}

export function clusterShared(name: string): ClusterShared {
  return {
    prefix: `sbtest:${name}:${randomBytes(4).toString('hex')}:`,
    env: {
      MASTER_KEY: randomBytes(32).toString('base64'),
      // Every INVITE comes from the proxy: per-source limits are Kamailio's (see README "Scaling out").
      SIP_INVITE_RATE: '1000',
      SIP_INVITE_BURST: '1000',
    },
  };
}

/** Starts one instance (`INSTANCE_ID` = `id`) and waits until it is ready. */
export function startInstance(shared: ClusterShared, at: SipAt, id: string): Promise<ServerProcess> {
  return startServerProcess({
    dialplans: ECHO_DIALPLAN,
    sipHost: at.ip,
    sipPort: at.port,
    redisUrl: CLUSTER_REDIS_URL,
    redisKeyPrefix: shared.prefix,
    logLevel: 'info',
    env: { ...shared.env, INSTANCE_ID: id },
  });
}

export interface ListedCall {
  readonly id: string;
  readonly instance?: string;
  readonly state?: string;
}

/** The calls an instance runs itself (GET /v1/calls lists the whole cluster's). */
export async function ownCalls(s: ServerProcess, id: string): Promise<ListedCall[]> {
  return ((await s.api('GET', '/v1/calls')).json.calls as ListedCall[]).filter((c) =>
    (c.instance ?? '').startsWith(`${id}:`),
  );
}

export interface EndedRecord {
  readonly reason?: string;
  readonly rtp?: { readonly packetsReceived?: number };
}

/** The process's "call ended" log records. */
export function endedCalls(s: ServerProcess): EndedRecord[] {
  return s.logsWithMsg('call ended');
}

/** Packets in a classic pcap file (24-byte global header, then 16-byte record headers + data). */
export function pcapPackets(path: string): number {
  const buf = readFileSync(path);
  let n = 0;
  for (let off = 24; off + 16 <= buf.length && n < 1_000_000; n++) off += 16 + buf.readUInt32LE(off + 8);
  return n;
}

/** Call-IDs of the calls for which sipp received a BYE. */
export function callsThatGotBye(r: SippResult): Set<string> {
  const ids = new Set<string>();
  for (const block of r.messages.split(/^-{10,} .*$/m)) {
    if (!/^UDP message received/m.test(block) || !/^BYE sip:/m.test(block)) continue;
    const id = /^Call-ID: (.*)$/m.exec(block)?.[1];
    if (id !== undefined) ids.add(id.trim());
  }
  return ids;
}

/** "Successful call" total from sipp's final statistics screen (stdout), or undefined. */
export function sippSuccessfulCalls(r: SippResult): number | undefined {
  const m = /Successful call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(r.stdout);
  return m === null ? undefined : Number(m[1]);
}

/** "Failed call" total from sipp's final statistics screen (stdout), or undefined. */
export function sippFailedCalls(r: SippResult): number | undefined {
  const m = /Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(r.stdout);
  return m === null ? undefined : Number(m[1]);
}

/**
 * sipp flags for calls through Kamailio: its UDP workers may relay an instance's 180 after its 200 (UDP
 * keeps no order), which a UAC ignores; sipp would abort the call on it as an unexpected message.
 */
export const TOLERATE_LATE_PROVISIONALS: readonly string[] = ['-default_behaviors', 'all,-abortunexp'];

/** A sipp caller at `at` (its RTP on port + 10) dialling number 100 at `proxy` with a test/cluster scenario. */
export function callerVia(
  proxy: SipAt,
  file: string,
  at: SipAt,
  extra: Partial<SippOptions> = {},
): SippOptions {
  return {
    scenario: fileURLToPath(new URL(`../cluster/scenarios/${file}`, import.meta.url)),
    target: `${proxy.ip}:${proxy.port}`,
    localIp: at.ip,
    localPort: at.port,
    mediaPort: at.port + 10,
    service: '100',
    durationMs: 3000,
    timeoutMs: 60_000,
    ...extra,
    extraArgs: [...TOLERATE_LATE_PROVISIONALS, ...(extra.extraArgs ?? [])],
  };
}
