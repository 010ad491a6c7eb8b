/**
 * An instance crashes behind Kamailio (issue 12): two production servers as child processes
 * (test/support/server-process.ts) behind the shipped deploy/kamailio/kamailio.cfg, sharing the real Redis.
 * With calls up on both, one is killed with SIGKILL: the dispatcher's OPTIONS keepalive marks it inactive,
 * 20 new calls all succeed on the survivor, and the survivor's running calls go on untouched (every RTP
 * packet of the caller's pcap arrives, then they are hung up through the API and the caller gets the BYE
 * through the proxy).
 * Addresses: kamailio 127.0.0.80:49401; instances 127.0.0.81:49402 and 127.0.0.82:49403; sipp (held calls)
 * 127.0.0.86:49430 (RTP 49440), sipp (new calls) 127.0.0.87:49450 (RTP 49460).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { clearRedisPrefix } from '../support/redis-keys.js';
import {
  callerVia,
  callsThatGotBye,
  CLUSTER_REDIS_URL,
  clusterShared,
  endedCalls as ended,
  ownCalls,
  pcapPackets,
  startInstance,
  type ListedCall,
} from '../support/kamailio-cluster.js';
import type { ServerProcess } from '../support/server-process.js';
import { describeSipp, runSipp, SIPP_PCAP_DIR, startSipp, type SippOptions } from '../support/sipp.js';
import { SwitchboardProxy } from '../support/switchboard-proxy.js';

const PROXY = { ip: '127.0.0.80', port: 49401 };
const A = { ip: '127.0.0.81', port: 49402 };
const B = { ip: '127.0.0.82', port: 49403 };
const HELD = { ip: '127.0.0.86', port: 49430 };
const FRESH = { ip: '127.0.0.87', port: 49450 };
const HELD_CALLS = 6;
const NEW_CALLS = 20;
describe('an instance killed with SIGKILL behind Kamailio', () => {
  const shared = clusterShared('kamfo');
  let a: ServerProcess;
  let b: ServerProcess;
  let proxy: SwitchboardProxy;

  const start = (at: { ip: string; port: number }, id: string): Promise<ServerProcess> =>
    startInstance(shared, at, id);

  beforeAll(async () => {
    [a, b] = await Promise.all([start(A, 'kam-a'), start(B, 'kam-b')]);
    proxy = await SwitchboardProxy.start({
      listenIp: PROXY.ip,
      port: PROXY.port,
      instances: [
        { address: `${A.ip}:${A.port}`, name: 'switchboard-a' },
        { address: `${B.ip}:${B.port}`, name: 'switchboard-b' },
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await a?.close();
    await b?.close();
    await clearRedisPrefix(CLUSTER_REDIS_URL, shared.prefix);
  });

  const sipp = (file: string, at: { ip: string; port: number }, extra: Partial<SippOptions>): SippOptions =>
    callerVia(PROXY, file, at, extra);
  it(
    'marks it inactive, puts every new call on the survivor and leaves its calls alone',
    { timeout: 120_000 },
    async () => {
      const pcap = `${SIPP_PCAP_DIR}/g711a.pcap`;
      const pcapCount = pcapPackets(pcap);
      // Calls that stay up until hung up: half land on each instance (round robin).
      const held = startSipp(
        sipp('uac-dispatch-hold.xml', HELD, {
          calls: HELD_CALLS,
          extraArgs: ['-r', '10', '-l', String(HELD_CALLS)],
        }),
      );
      let survivorCalls: ListedCall[] = [];
      try {
        await eventually(async () => {
          expect(await ownCalls(a, 'kam-a')).toHaveLength(HELD_CALLS / 2);
          survivorCalls = await ownCalls(b, 'kam-b');
          expect(survivorCalls).toHaveLength(HELD_CALLS / 2);
        }, 15_000);

        const mark = proxy.kamailio.logMark();
        const killedAt = Date.now();
        expect((await a.kill9()).signal).toBe('SIGKILL');
        // The keepalive (OPTIONS every 2 s, inactive after 2 unanswered) takes it out of the set.
        await proxy.kamailio.waitForLogAfter(
          new RegExp(`SBPROXY instance down sip:${A.ip.replaceAll('.', '\\.')}:${A.port}`),
          mark,
          30_000,
        );
        const downAfterMs = Date.now() - killedAt;
        // kamcmd dispatcher.list: the dead one inactive (still probed, to come back), the survivor active.
        const states = await proxy.dispatcherStates();
        expect(states.get(`sip:${A.ip}:${A.port}`)).toMatch(/^I/);
        expect(states.get(`sip:${B.ip}:${B.port}`)).toMatch(/^A/);
        console.info(`kamailio marked the killed instance inactive ${downAfterMs} ms after SIGKILL`);

        const dispatchedBefore = proxy.dispatched().length;
        const fresh = await runSipp(
          sipp('uac-dispatch.xml', FRESH, {
            calls: NEW_CALLS,
            extraArgs: ['-r', '5', '-l', String(NEW_CALLS)],
          }),
        );
        const diag = `${describeSipp(fresh)}\nkamailio:\n${proxy.log().slice(-6000)}`;
        expect(fresh.exitCode, diag).toBe(0);
        // None of them was even tried on the dead instance.
        expect(proxy.dispatched().slice(dispatchedBefore), diag).toEqual(
          Array<string>(NEW_CALLS).fill(`${B.ip}:${B.port}`),
        );
        await eventually(() => {
          expect(ended(b).filter((c) => c.reason === 'caller-bye')).toHaveLength(NEW_CALLS);
        }, 15_000);

        // The survivor's held calls are still up; ending them through its API sends the BYE via the proxy.
        const still = await ownCalls(b, 'kam-b');
        expect(still.map((c) => c.id).sort()).toEqual(survivorCalls.map((c) => c.id).sort());
        for (const call of still) expect((await b.api('DELETE', `/v1/calls/${call.id}`)).status).toBe(204);
      } catch (err) {
        held.kill();
        throw err;
      }
      // The survivor's callers got their BYE; the killed instance's never do (sipp gives up on them after
      // its 25 s wait, so its exit code says some calls failed).
      const r = await held.result;
      expect(callsThatGotBye(r).size, describeSipp(r)).toBe(HELD_CALLS / 2);
      // Their media went on across the crash: every packet of the caller's pcap reached the survivor.
      const apiEnded = ended(b).filter((c) => c.reason !== 'caller-bye');
      expect(apiEnded).toHaveLength(HELD_CALLS / 2);
      for (const c of apiEnded)
        expect(c.rtp?.packetsReceived ?? 0).toBeGreaterThanOrEqual(Math.floor(pcapCount * 0.98));
    },
  );

  it(
    'takes the restarted instance back, and moves a call on when the instance dies unnoticed',
    { timeout: 90_000 },
    async () => {
      const upMark = proxy.kamailio.logMark();
      await a.close(); // the killed one: only its temp dirs are left
      a = await start(A, 'kam-a');
      // Two answered keepalives (ds_inactive_threshold) make it active again.
      await proxy.kamailio.waitForLogAfter(
        new RegExp(`SBPROXY instance up sip:${A.ip.replaceAll('.', '\\.')}:${A.port}`),
        upMark,
        30_000,
      );
      expect((await proxy.dispatcherStates()).get(`sip:${A.ip}:${A.port}`)).toMatch(/^A/);

      // Killed again, and calls come at once: the keepalive cannot have noticed yet (a ping times out
      // only after 5 s), so round robin still hands one of the first two calls to the dead instance. That
      // INVITE gets no answer for 2 s (the per-branch timer), then goes to the survivor.
      await a.kill9();
      const dispatchedBefore = proxy.dispatched().length;
      const endedBefore = ended(b).filter((c) => c.reason === 'caller-bye').length;
      const r = await runSipp(sipp('uac-dispatch.xml', FRESH, { calls: 4, extraArgs: ['-l', '1'] }));
      const diag = `${describeSipp(r)}\nkamailio:\n${proxy.log().slice(-6000)}`;
      expect(r.exitCode, diag).toBe(0);
      const tried = proxy.dispatched().slice(dispatchedBefore);
      const dead = `${A.ip}:${A.port}`;
      const survivor = `${B.ip}:${B.port}`;
      // Exactly one attempt on the dead instance (then it is marked inactive), each call answered by B.
      expect(
        tried.filter((x) => x === dead),
        diag,
      ).toHaveLength(1);
      expect(
        tried.filter((x) => x === survivor),
        diag,
      ).toHaveLength(4);
      expect(proxy.log(), diag).toMatch(
        new RegExp(`SBPROXY instance sip:${dead.replaceAll('.', '\\.')} failed \\(408\\)`),
      );
      expect((await proxy.dispatcherStates()).get(`sip:${dead}`)).toMatch(/^I/);
      await eventually(() => {
        expect(ended(b).filter((c) => c.reason === 'caller-bye').length - endedBefore).toBe(4);
      }, 15_000);
    },
  );
});
