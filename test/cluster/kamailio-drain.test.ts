/**
 * Draining behind Kamailio (issue 12): two production server processes behind the shipped
 * deploy/kamailio/kamailio.cfg, sharing the real Redis.
 * - SIGTERM to one instance with 10 calls up: all 10 finish (the drained instance's callers hang up
 *   themselves after the whole pcap), every call placed during the drain is answered by the other
 *   instance (a 503 from the draining one fails over at the proxy, its OPTIONS 503 takes it out of the
 *   set), and the drained process exits 0.
 * - A rolling restart of both instances (drain, exit, start again, back in the set) under a steady load
 *   of calls: no call fails.
 * Addresses: kamailio 127.0.0.80:49404; instances 127.0.0.81:49406 and 127.0.0.82:49407; sipp 127.0.0.85
 * ports 49430 (RTP 49440) and 49450 (RTP 49460), the load 127.0.0.88:49430 (RTP 49440).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import {
  callerVia,
  CLUSTER_REDIS_URL,
  clusterShared,
  endedCalls,
  ownCalls,
  pcapPackets,
  sippFailedCalls,
  sippSuccessfulCalls,
  startInstance,
  type SipAt,
} from '../support/kamailio-cluster.js';
import { clearRedisPrefix } from '../support/redis-keys.js';
import type { ServerProcess } from '../support/server-process.js';
import { describeSipp, runSipp, SIPP_PCAP_DIR, startSipp, type SippResult } from '../support/sipp.js';
import { SwitchboardProxy } from '../support/switchboard-proxy.js';

const PROXY: SipAt = { ip: '127.0.0.80', port: 49404 };
const A: SipAt = { ip: '127.0.0.81', port: 49406 };
const B: SipAt = { ip: '127.0.0.82', port: 49407 };
const UP: SipAt = { ip: '127.0.0.85', port: 49430 };
const FRESH: SipAt = { ip: '127.0.0.85', port: 49450 };
const LOAD: SipAt = { ip: '127.0.0.88', port: 49430 };
/** For each call sipp reports as failed: its messages in sipp's trace and its lines in kamailio's log. */
function failedCallTraces(r: SippResult, kamailioLog: string, servers: readonly ServerProcess[]): string {
  const ids = new Set(
    [...r.errors.matchAll(/for call: (\S+)|Call-Id '([^']+)'/g)].map((m) => m[1] ?? m[2] ?? ''),
  );
  const out: string[] = [];
  for (const id of ids) {
    if (!id.includes('@')) continue;
    out.push(`=== ${id}: sipp`, ...r.messages.split(/^(?=-{10,} )/m).filter((b) => b.includes(id)));
    out.push(`=== ${id}: kamailio`, ...kamailioLog.split('\n').filter((l) => l.includes(id)));
    for (const s of servers)
      out.push(`=== ${id}: instance ${s.sipPort}`, ...s.logs().filter((l) => l.includes(id)));
  }
  return out.join('\n');
}
const address = (at: SipAt): string => `${at.ip}:${at.port}`;
const escaped = (at: SipAt): string => address(at).replaceAll('.', '\\.');

describe('draining an instance behind Kamailio', () => {
  const shared = clusterShared('kamdrain');
  const ids = new Map<SipAt, string>([
    [A, 'drain-a'],
    [B, 'drain-b'],
  ]);
  const servers = new Map<SipAt, ServerProcess>();
  /** Processes that were drained and replaced (kept for their logs). */
  const retired: ServerProcess[] = [];
  let proxy: SwitchboardProxy;
  const server = (at: SipAt): ServerProcess => {
    const s = servers.get(at);
    if (s === undefined) throw new Error(`no instance at ${address(at)}`);
    return s;
  };
  const start = async (at: SipAt): Promise<void> => {
    servers.set(at, await startInstance(shared, at, ids.get(at) ?? ''));
  };
  const callerByes = (at: SipAt): number =>
    endedCalls(server(at)).filter((c) => c.reason === 'caller-bye').length;

  beforeAll(async () => {
    await Promise.all([start(A), start(B)]);
    proxy = await SwitchboardProxy.start({
      listenIp: PROXY.ip,
      port: PROXY.port,
      instances: [
        { address: address(A), name: 'switchboard-a' },
        { address: address(B), name: 'switchboard-b' },
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    for (const s of servers.values()) await s.close();
    await clearRedisPrefix(CLUSTER_REDIS_URL, shared.prefix);
  });

  /** SIGTERM, then the exit; the instance must leave the dispatcher set meanwhile. */
  async function drain(at: SipAt): Promise<{ code: number | null }> {
    const mark = proxy.kamailio.logMark();
    expect(server(at).signal('SIGTERM')).toBe(true);
    await proxy.kamailio.waitForLogAfter(
      new RegExp(`SBPROXY instance down sip:${escaped(at)}`),
      mark,
      30_000,
    );
    return server(at).exited;
  }

  /** Starts the instance again on its address and waits until two answered keepalives bring it back. */
  async function restart(at: SipAt): Promise<void> {
    await server(at).close(); // exited already: only its temp dirs go
    retired.push(server(at));
    const mark = proxy.kamailio.logMark();
    await start(at);
    await proxy.kamailio.waitForLogAfter(new RegExp(`SBPROXY instance up sip:${escaped(at)}`), mark, 30_000);
  }

  it(
    'lets 10 calls finish, sends every new call to the other instance and exits 0',
    { timeout: 120_000 },
    async () => {
      const pcapCount = pcapPackets(`${SIPP_PCAP_DIR}/g711a.pcap`);
      const before = { a: callerByes(A), b: callerByes(B) };
      // 10 calls of 8 s each (the 4.7 s pcap, then silence): 5 land on each instance.
      const up = startSipp(
        callerVia(PROXY, 'uac-dispatch.xml', UP, {
          calls: 10,
          durationMs: 8000,
          extraArgs: ['-r', '10', '-l', '10'],
        }),
      );
      try {
        await eventually(async () => {
          expect(await ownCalls(server(A), 'drain-a')).toHaveLength(5);
          expect(await ownCalls(server(B), 'drain-b')).toHaveLength(5);
        }, 15_000);

        const dispatchedBefore = proxy.dispatched().length;
        const exit = drain(A);
        // New calls while A drains: none may stay on A.
        const fresh = await runSipp(
          callerVia(PROXY, 'uac-dispatch.xml', FRESH, {
            calls: 10,
            durationMs: 1000,
            extraArgs: ['-r', '5', '-l', '10'],
          }),
        );
        const diag = `${describeSipp(fresh)}\nkamailio:\n${proxy.log().slice(-6000)}`;
        expect(fresh.exitCode, diag).toBe(0);
        const upR = await up.result;
        expect(upR.exitCode, describeSipp(upR)).toBe(0);
        expect(await exit).toMatchObject({ code: 0 });

        // Every fresh call was answered by B: its ended caller-BYE count grew by its 5 calls + all 10 fresh.
        await eventually(() => expect(callerByes(B) - before.b).toBe(15));
        // A's 5 calls ran to their callers' BYE with all their media (none was cut by the drain).
        const onA = endedCalls(server(A)).slice(-5);
        expect(callerByes(A) - before.a, JSON.stringify(onA)).toBe(5);
        for (const c of onA)
          expect(c.rtp?.packetsReceived ?? 0).toBeGreaterThanOrEqual(Math.floor(pcapCount * 0.98));
        // An INVITE that reached A while it drained got 503 and moved on; the final target was always B.
        const tried = proxy.dispatched().slice(dispatchedBefore);
        expect(
          tried.filter((x) => x === address(B)),
          diag,
        ).toHaveLength(10);
        const refused = tried.filter((x) => x === address(A)).length;
        console.info(
          `drain: ${refused} of 10 new INVITEs reached the draining instance first (503, failed over)`,
        );
        if (refused > 0)
          expect(proxy.log()).toMatch(new RegExp(`SBPROXY instance sip:${escaped(A)} failed \\(503\\)`));
      } catch (err) {
        up.kill();
        throw err;
      }
      await restart(A);
    },
  );

  it(
    'restarts both instances one after the other under a steady load without a failed call',
    { timeout: 180_000 },
    async () => {
      const CALLS = 60;
      // 2 calls/s of 3 s each for 30 s: about 6 calls up at any time.
      const load = startSipp(
        callerVia(PROXY, 'uac-dispatch.xml', LOAD, {
          calls: CALLS,
          timeoutMs: 120_000,
          extraArgs: ['-r', '2', '-l', '20'],
        }),
      );
      const exits: Array<number | null> = [];
      try {
        for (const at of [A, B]) {
          // Let the load reach this instance before it goes.
          await eventually(
            async () => expect((await ownCalls(server(at), ids.get(at) ?? '')).length).toBeGreaterThan(0),
            15_000,
          );
          exits.push((await drain(at)).code);
          await restart(at);
        }
      } catch (err) {
        load.kill();
        throw err;
      }
      const r = await load.result;
      const failed = sippFailedCalls(r);
      const ok = sippSuccessfulCalls(r);
      console.info(`rolling restart: ${ok} calls succeeded, ${failed} failed`);
      expect(
        r.exitCode,
        `${describeSipp(r)}\n${failedCallTraces(r, proxy.log(), [...retired, ...servers.values()])}`,
      ).toBe(0);
      expect(failed).toBe(0);
      expect(ok).toBe(CALLS);
      expect(exits).toEqual([0, 0]);
    },
  );
});
