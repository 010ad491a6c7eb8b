/**
 * Issue 11, inbound digest auth behind a SIP proxy: sipp → Kamailio (the record-routing proxy of the peer tests)
 * → the production server, dialplan with `auth`. Both INVITEs reach the server from the proxy's address, so the
 * nonce (bound to source address and Call-ID) verifies; the ACK for the 401 is the proxy's own (hop by hop), and
 * the server's INVITE transaction absorbs it. Checked from sipp's trace, Kamailio's log of what it relayed and
 * the server's call record (real PCMA media from the pcap).
 * Addresses: kamailio 127.0.0.44:49090; sipp 127.0.0.43:49080 (RTP 49084).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endedCalls } from '../support/call-audio.js';
import { eventually } from '../support/eventually.js';
import { Kamailio } from '../support/kamailio.js';
import { describeSipp, runSipp } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';

const PROXY_IP = '127.0.0.44';
const PROXY_PORT = 49090;
const SIPP_IP = '127.0.0.43';
const SIPP_PORT = 49080;
const USER = 'pbx-behind-proxy';
const PASSWORD = 'Kazoo-Lighthouse-77';
const path = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url));

describe('SIP digest auth through Kamailio (issue 11)', () => {
  let srv: TestServer;
  let proxy: Kamailio;

  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: {
        'acme.yaml':
          'tenant: acme\nnumbers: ["100"]\nauth: { credential: sip-inbound }\nagent: { provider: echo }\n',
      },
      credentials: [
        { tenant: 'acme', provider: 'sip-inbound', fields: { username: USER, password: PASSWORD } },
      ],
    });
    proxy = await Kamailio.start({
      config: path('../peers/kamailio/record-route-proxy.cfg'),
      listenIp: PROXY_IP,
      port: PROXY_PORT,
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await srv?.close();
  });

  it(
    'the challenge and the answer cross the proxy; the call is answered and carries media',
    { timeout: 40_000 },
    async () => {
      const server = `127.0.0.1:${srv.sipPort}`;
      const r = await runSipp({
        scenario: path('./scenarios/digest-via-proxy.xml'),
        target: proxy.address,
        localIp: SIPP_IP,
        localPort: SIPP_PORT,
        mediaPort: SIPP_PORT + 4,
        service: '100',
        vars: { server },
        timeoutMs: 25_000,
        extraArgs: ['-au', USER, '-ap', PASSWORD, '-auth_uri', `100@${server}`],
      });
      const diag = `${describeSipp(r)}\nkamailio:\n${proxy.log().slice(-4000)}`;
      expect(r.exitCode, diag).toBe(0);
      // The proxy relayed both INVITEs, then the 2xx ACK and the BYE; the ACK for the 401 stayed with it.
      expect(
        proxy.requests().map((q) => `${q.method} ${q.cseq}`),
        diag,
      ).toEqual(['INVITE 1 INVITE', 'ACK 1 ACK', 'INVITE 2 INVITE', 'ACK 2 ACK', 'BYE 3 BYE']);
      // One 401 reached the proxy: had the proxy's ACK not matched the server's transaction, Timer G would have
      // retransmitted it (500 ms, 1 s, … while the call's 3 s of media run).
      const challenges = proxy
        .log()
        .match(/PEER reply 401 Unauthorized cseq=\[1 INVITE\] from 127\.0\.0\.1:/g);
      expect(challenges, diag).toHaveLength(1);
      const refusals = srv.logs.filter((l) => l.includes('call refused by digest auth'));
      expect(refusals, diag).toHaveLength(1);
      expect(refusals[0]).toContain('"cause":"auth-challenge"');
      await eventually(() => expect(endedCalls(srv).at(-1)?.reason).toBe('caller-bye'));
      expect(endedCalls(srv).at(-1)?.rtp?.packetsReceived ?? 0).toBeGreaterThan(50);
      expect(srv.server.rtpPorts.inUse).toBe(0);
    },
  );
});
