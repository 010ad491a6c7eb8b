/**
 * A call through Kamailio (issue 10): sipp → Kamailio (record-routing proxy, 127.0.0.30) → the production
 * server. The proxy record-routes the INVITE, so both directions' in-dialog requests must follow the
 * route set (RFC 3261 §12.1.1/§12.1.2, loose routing §16.12): the caller's ACK and BYE carry
 * `Route: <proxy>`, and so does the BYE the server sends when the echo agent ends the call on `#`.
 * Checked from three sides: sipp's message trace, kamailio's log of every request it relayed, and the
 * server's own call record.
 * Addresses: kamailio 127.0.0.30:45300; sipp 127.0.0.31:45310 (RTP 45320).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endedCalls } from '../support/call-audio.js';
import { eventually } from '../support/eventually.js';
import { Kamailio } from '../support/kamailio.js';
import { describeSipp, runSipp, type SippResult } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';

const PROXY_IP = '127.0.0.30';
const PROXY_PORT = 45300;
const SIPP_IP = '127.0.0.31';
const SIPP_PORT = 45310;
const path = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url));

/** The messages sipp received whose text matches `pattern` (its trace logs sent and received ones). */
function receivedMessages(r: SippResult, pattern: RegExp): string[] {
  return r.messages
    .split(/^-{10,} .*$/m)
    .filter((block) => /^UDP message received/m.test(block) && pattern.test(block));
}

describe('sipp → Kamailio (record-routing proxy) → production server', () => {
  let srv: TestServer;
  let proxy: Kamailio;
  const routeToProxy = new RegExp(`<sip:${PROXY_IP.replaceAll('.', '\\.')}:${PROXY_PORT};lr`);

  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: {
        'demo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, tools: { end_call: {} } }\n',
      },
    });
    proxy = await Kamailio.start({
      config: path('./kamailio/record-route-proxy.cfg'),
      listenIp: PROXY_IP,
      port: PROXY_PORT,
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await srv?.close();
  });

  function callViaProxy(scenario: string): Promise<SippResult> {
    return runSipp({
      scenario: path(`./scenarios/${scenario}`),
      target: proxy.address,
      localIp: SIPP_IP,
      localPort: SIPP_PORT,
      mediaPort: SIPP_PORT + 10,
      service: '100',
      vars: { server: `127.0.0.1:${srv.sipPort}` },
      timeoutMs: 25_000,
    });
  }

  it("relays the caller's ACK and BYE along the Record-Route set", { timeout: 40_000 }, async () => {
    const before = proxy.requests().length;
    const r = await callViaProxy('uac-via-proxy.xml');
    const diag = `${describeSipp(r)}\nkamailio:\n${proxy.log().slice(-4000)}`;
    expect(r.exitCode, diag).toBe(0);
    // The server's 200 echoes the proxy's Record-Route (RFC 3261 §12.1.1), so sipp learnt the route.
    expect(r.messages, diag).toMatch(new RegExp(`^Record-Route: ${routeToProxy.source}`, 'm'));
    const seen = proxy.requests().slice(before);
    expect(
      seen.map((q) => q.method),
      diag,
    ).toEqual(['INVITE', 'ACK', 'BYE']);
    for (const q of seen) expect(q.source, diag).toBe(`${SIPP_IP}:${SIPP_PORT}`);
    // The INVITE is the dialog-creating request: no route yet; ACK and BYE carry the proxy's entry.
    expect(seen[0]?.route).toBe('');
    expect(seen[1]?.route, diag).toMatch(routeToProxy);
    expect(seen[2]?.route, diag).toMatch(routeToProxy);
    expect(proxy.log(), diag).toMatch(/PEER in-dialog BYE loose-routed to sip:\S+@127\.0\.0\.1:/);
    expect(proxy.log(), diag).toMatch(/PEER reply 200 OK cseq=\[2 BYE\] from 127\.0\.0\.1:/);
    // The server took the proxied BYE as the caller's hang-up, after real media (PCMA from the pcap).
    await eventually(() => expect(endedCalls(srv).at(-1)?.reason).toBe('caller-bye'));
    expect(endedCalls(srv).at(-1)?.rtp?.packetsReceived ?? 0).toBeGreaterThan(50);
  });

  it('sends its own BYE (echo agent end_call on #) through the proxy', { timeout: 40_000 }, async () => {
    const before = proxy.requests().length;
    const r = await callViaProxy('uac-via-proxy-wait-bye.xml');
    const diag = `${describeSipp(r)}\nkamailio:\n${proxy.log().slice(-4000)}`;
    expect(r.exitCode, diag).toBe(0);
    const seen = proxy.requests().slice(before);
    expect(
      seen.map((q) => q.method),
      diag,
    ).toEqual(['INVITE', 'ACK', 'BYE']);
    const bye = seen[2];
    // The BYE comes from the server (its SIP port on 127.0.0.1) and carries the route set it stored from
    // the INVITE's Record-Route (RFC 3261 §12.1.1: the UAS route set is the Record-Route in order).
    expect(bye?.source, diag).toBe(`127.0.0.1:${srv.sipPort}`);
    expect(bye?.route, diag).toMatch(routeToProxy);
    expect(bye?.requestUri, diag).toBe(`sip:sipp@${SIPP_IP}:${SIPP_PORT};transport=UDP`);
    expect(proxy.log(), diag).toMatch(/PEER in-dialog BYE loose-routed to sip:sipp@127\.0\.0\.31:45310/);
    // sipp got that BYE from the proxy: the proxy's Via on top, the server's below it (§16.6 step 8).
    const byes = receivedMessages(r, /^BYE sip:/m);
    expect(byes.length, diag).toBeGreaterThan(0);
    const vias = [...(byes[0] ?? '').matchAll(/^Via: (.*)$/gm)].map((m) => m[1]);
    expect(vias[0], diag).toMatch(
      new RegExp(`^SIP/2\\.0/UDP ${PROXY_IP.replaceAll('.', '\\.')}:${PROXY_PORT};`),
    );
    expect(vias[1], diag).toMatch(new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${srv.sipPort};`));
    expect(proxy.log(), diag).toMatch(/PEER reply 200 OK cseq=\[\d+ BYE\] from 127\.0\.0\.31:45310/);
    await eventually(() => expect(endedCalls(srv).at(-1)?.reason).toBe('end_call'));
  });

  it('leaves no call behind', async () => {
    await eventually(async () => expect((await srv.api('GET', '/v1/calls')).json.calls).toHaveLength(0));
  });
});
