/**
 * Kamailio in front of two Switchboard instances (issue 12), with the shipped deploy/kamailio/kamailio.cfg
 * (only its listen address and dispatcher list path substituted) and the two production instances sharing
 * the real Redis on 127.0.0.1:6379 under a unique key prefix.
 * - 40 sipp calls with PCMA speech to the proxy are spread over both instances by the dispatcher;
 *   every caller BYE crosses the proxy (loose routing) to the instance that answered.
 * - The instance's own BYE (echo agent end_call on '#') goes back through the proxy, from both instances.
 * - The control API of either instance sees and ends the calls of the other: the caller gets the BYE of
 *   DELETE /v1/calls/:id through the proxy.
 * - A caller behind NAT (private Via/Contact/SDP) is answered at its real address and gets the instance's
 *   BYE there (rport, Contact alias, SDP c= fix).
 * - A source flooding the proxy is blocked by pike while another caller's call goes through.
 * Addresses: kamailio 127.0.0.80:49400; sipp 127.0.0.85:49410 (RTP 49420); the NAT'd sipp 127.0.0.88:49470
 * (RTP 49480); the flooder 127.0.0.89:49490; instances on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endedCalls } from '../support/call-audio.js';
import { eventually } from '../support/eventually.js';
import { TOLERATE_LATE_PROVISIONALS } from '../support/kamailio-cluster.js';
import { clearRedisPrefix } from '../support/redis-keys.js';
import { describeSipp, runSipp, startSipp, type SippOptions, type SippResult } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { SwitchboardProxy } from '../support/switchboard-proxy.js';

const PROXY_IP = '127.0.0.80';
const PROXY_PORT = 49400;
const SIPP_IP = '127.0.0.85';
const SIPP_PORT = 49410;
const NAT_IP = '127.0.0.88';
const NAT_PORT = 49470;
const FLOOD_IP = '127.0.0.89';
const FLOOD_PORT = 49490;
const REDIS_URL = 'redis://127.0.0.1:6379';
const CALLS = 40;
const scenario = (name: string): string => fileURLToPath(new URL(`./scenarios/${name}`, import.meta.url));
const DIALPLAN = {
  'demo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, tools: { end_call: {} } }\n',
};
// Behind the proxy every INVITE comes from the proxy's address: the per-source limits are Kamailio's
// (pike, pipelimit), so the instances' own per-source INVITE bucket is opened up (see README "Scaling out").
const ENV = {
  REDIS_URL,
  MASTER_KEY: randomBytes(32).toString('base64'),
  SIP_INVITE_RATE: '1000',
  SIP_INVITE_BURST: '1000',
};

describe('Kamailio dispatcher in front of two instances', () => {
  const prefix = `sbtest:kam:${randomBytes(4).toString('hex')}:`;
  let a: TestServer;
  let b: TestServer;
  let proxy: SwitchboardProxy;
  const sipAddress = (s: TestServer): string => `127.0.0.1:${s.sipPort}`;

  beforeAll(async () => {
    a = await startTestServer({ dialplans: DIALPLAN, env: ENV, redisKeyPrefix: prefix, logLevel: 'info' });
    b = await startTestServer({ dialplans: DIALPLAN, env: ENV, redisKeyPrefix: prefix, logLevel: 'info' });
    proxy = await SwitchboardProxy.start({
      listenIp: PROXY_IP,
      port: PROXY_PORT,
      instances: [
        { address: sipAddress(a), name: 'switchboard-a' },
        { address: sipAddress(b), name: 'switchboard-b' },
      ],
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await a?.close();
    await b?.close();
    await clearRedisPrefix(REDIS_URL, prefix);
  });

  function sippOptions(file: string, extra: Partial<SippOptions> = {}): SippOptions {
    return {
      scenario: scenario(file),
      target: proxy.address,
      localIp: SIPP_IP,
      localPort: SIPP_PORT,
      mediaPort: SIPP_PORT + 10,
      service: '100',
      durationMs: 3000,
      timeoutMs: 40_000,
      ...extra,
      extraArgs: [...TOLERATE_LATE_PROVISIONALS, ...(extra.extraArgs ?? [])],
    };
  }
  const diag = (r: SippResult): string => `${describeSipp(r)}\nkamailio:\n${proxy.log().slice(-6000)}`;
  const callerByes = (s: TestServer): number =>
    endedCalls(s).filter((c) => c.reason === 'caller-bye' && (c.rtp?.packetsReceived ?? 0) > 50).length;

  it(
    `spreads ${CALLS} calls over both instances; every caller BYE crosses the proxy`,
    { timeout: 90_000 },
    async () => {
      const dispatchedBefore = proxy.dispatched().length;
      const byesBefore = proxy.byes().length;
      const endedBefore = { a: callerByes(a), b: callerByes(b) };
      // 4 calls/s, at most 16 at once, each streaming 3 s of PCMA before hanging up.
      const r = await runSipp(
        sippOptions('uac-dispatch.xml', {
          calls: CALLS,
          extraArgs: ['-r', '4', '-l', '16'],
          timeoutMs: 60_000,
        }),
      );
      expect(r.exitCode, diag(r)).toBe(0);

      const chosen = proxy.dispatched().slice(dispatchedBefore);
      expect(chosen, diag(r)).toHaveLength(CALLS);
      const onA = chosen.filter((x) => x === sipAddress(a)).length;
      const onB = chosen.filter((x) => x === sipAddress(b)).length;
      expect(onA + onB, diag(r)).toBe(CALLS);
      // A fair share: round robin gives 20/20; allow a few either way (a retransmitted INVITE is absorbed
      // by the transaction layer, never dispatched twice).
      expect(Math.min(onA, onB), `a=${onA} b=${onB}`).toBeGreaterThanOrEqual(CALLS / 2 - 4);

      // Each caller BYE was loose-routed by the proxy to the instance that answered that call.
      const byes = proxy.byes().slice(byesBefore);
      expect(byes, diag(r)).toHaveLength(CALLS);
      for (const bye of byes) expect(bye.source).toBe(`${SIPP_IP}:${SIPP_PORT}`);
      expect(byes.filter((x) => x.requestUri.includes(`@${sipAddress(a)}`)).length).toBe(onA);
      expect(byes.filter((x) => x.requestUri.includes(`@${sipAddress(b)}`)).length).toBe(onB);

      // Each instance took its calls as caller hang-ups after real media (PCMA from the pcap).
      await eventually(() => {
        expect(callerByes(a) - endedBefore.a).toBe(onA);
        expect(callerByes(b) - endedBefore.b).toBe(onB);
      }, 15_000);
    },
  );

  it(
    'sends the instance BYE (end_call on #) through the proxy, from both instances',
    { timeout: 60_000 },
    async () => {
      const byesBefore = proxy.byes().length;
      const endCallsBefore = (s: TestServer): number =>
        endedCalls(s).filter((c) => c.reason === 'end_call').length;
      const before = { a: endCallsBefore(a), b: endCallsBefore(b) };
      // Two calls one after the other: round robin hands them to different instances.
      const r = await runSipp(sippOptions('uac-dispatch-wait-bye.xml', { calls: 2, extraArgs: ['-l', '1'] }));
      expect(r.exitCode, diag(r)).toBe(0);
      const byes = proxy.byes().slice(byesBefore);
      expect(byes.map((x) => x.source).sort(), diag(r)).toEqual([sipAddress(a), sipAddress(b)].sort());
      for (const bye of byes) expect(bye.requestUri).toBe(`sip:sipp@${SIPP_IP}:${SIPP_PORT};transport=UDP`);
      await eventually(() => {
        expect(endCallsBefore(a) - before.a).toBe(1);
        expect(endCallsBefore(b) - before.b).toBe(1);
      });
    },
  );

  it(
    'lists a call of one instance through the other and ends it from there',
    { timeout: 60_000 },
    async () => {
      const byesBefore = proxy.byes().length;
      const caller = startSipp(sippOptions('uac-dispatch-hold.xml'));
      try {
        // Both instances list the one call (the owner locally, the other from the cluster registry).
        let id = '';
        await eventually(async () => {
          const onA = (await a.api('GET', '/v1/calls')).json.calls as Array<{ id: string }>;
          const onB = (await b.api('GET', '/v1/calls')).json.calls as Array<{ id: string }>;
          expect(onA).toHaveLength(1);
          expect(onB).toHaveLength(1);
          expect(onA[0]?.id).toBe(onB[0]?.id);
          id = onA[0]?.id ?? '';
        });
        const owner = proxy.dispatched().at(-1) === sipAddress(a) ? a : b;
        const other = owner === a ? b : a;
        const local = (await owner.api('GET', `/v1/calls/${id}`)).json as { instance?: string };
        const got = await other.api('GET', `/v1/calls/${id}`);
        expect(got.status).toBe(200);
        expect(got.json).toMatchObject({
          id,
          tenant: 'demo',
          direction: 'inbound',
          instance: local.instance,
        });
        const del = await other.api('DELETE', `/v1/calls/${id}`);
        expect(del.status).toBe(204);
        const r = await caller.result;
        expect(r.exitCode, diag(r)).toBe(0);
        // The hang-up BYE came from the owner instance and crossed the proxy to the caller.
        const byes = proxy.byes().slice(byesBefore);
        expect(
          byes.map((x) => x.source),
          diag(r),
        ).toEqual([sipAddress(owner)]);
        await eventually(async () => {
          expect((await a.api('GET', '/v1/calls')).json.calls).toHaveLength(0);
          expect((await b.api('GET', '/v1/calls')).json.calls).toHaveLength(0);
        });
      } finally {
        caller.kill();
      }
    },
  );

  it(
    'answers a caller behind NAT at its real address and sends the BYE there',
    { timeout: 60_000 },
    async () => {
      const byesBefore = proxy.byes().length;
      const endCalls = (s: TestServer): number => endedCalls(s).filter((c) => c.reason === 'end_call').length;
      const before = endCalls(a) + endCalls(b);
      const r = await runSipp(
        sippOptions('uac-dispatch-nat.xml', {
          localIp: NAT_IP,
          localPort: NAT_PORT,
          mediaPort: NAT_PORT + 10,
          vars: { private: '192.168.1.10:5062', private_ip: '192.168.1.10' },
        }),
      );
      expect(r.exitCode, diag(r)).toBe(0);
      // The instance's BYE names the private Contact; the alias the proxy added to it (taken off again by
      // handle_ruri_alias) sends it to the real source.
      const byes = proxy.byes().slice(byesBefore);
      expect(
        byes.map((x) => x.requestUri),
        diag(r),
      ).toEqual(['sip:sipp@192.168.1.10:5062;transport=UDP']);
      expect(proxy.log()).toMatch(
        new RegExp(
          `SBPROXY in-dialog BYE loose-routed to \\S+ du=\\[sip:${NAT_IP.replaceAll('.', '\\.')}:${NAT_PORT}`,
        ),
      );
      // '#' reached the agent: its RTP (from the real address) was taken as the caller's at once, which it is
      // only when the SDP named that address (the private c= was replaced).
      await eventually(() => expect(endCalls(a) + endCalls(b) - before).toBe(1));
    },
  );

  it('blocks a flooding source (pike) while another caller gets through', { timeout: 60_000 }, async () => {
    const socket = createSocket('udp4');
    const replies: string[] = [];
    socket.on('message', (m) => replies.push(m.toString('latin1')));
    await new Promise<void>((resolve) => socket.bind(FLOOD_PORT, FLOOD_IP, resolve));
    const options = (i: number): Buffer =>
      Buffer.from(
        `OPTIONS sip:${proxy.address} SIP/2.0\r\n` +
          `Via: SIP/2.0/UDP ${FLOOD_IP}:${FLOOD_PORT};branch=z9hG4bK-flood-${i}\r\n` +
          `From: <sip:flood@${FLOOD_IP}>;tag=f${i}\r\nTo: <sip:${proxy.address}>\r\n` +
          `Call-ID: flood-${i}@${FLOOD_IP}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
      );
    const send = (i: number): Promise<void> =>
      new Promise((resolve, reject) =>
        socket.send(options(i), PROXY_PORT, PROXY_IP, (err) => (err ? reject(err) : resolve())),
      );
    try {
      // One burst of 400 requests (pike allows 100 per 2 s from one source).
      const FLOOD = 400;
      for (let i = 0; i < FLOOD; i++) await send(i);
      await proxy.kamailio.waitForLog(
        new RegExp(`SBPROXY pike blocked ${FLOOD_IP.replaceAll('.', '\\.')}`),
        10_000,
      );
      // A caller from another address is not affected.
      const r = await runSipp(sippOptions('uac-dispatch.xml'));
      expect(r.exitCode, diag(r)).toBe(0);
      const answered = replies.filter((m) => m.startsWith('SIP/2.0 200')).length;
      expect(answered).toBeGreaterThan(0);
      expect(answered, `${answered} of ${FLOOD} answered`).toBeLessThan(FLOOD / 2);
      // The flooder stays blocked: nothing more is answered.
      const seen = replies.length;
      for (let i = FLOOD; i < FLOOD + 5; i++) await send(i);
      await new Promise((r) => setTimeout(r, 1000));
      expect(replies.length).toBe(seen);
      console.info(`pike: ${answered} of ${FLOOD} flood requests answered before the source was blocked`);
    } finally {
      socket.close();
    }
  });
});
