/**
 * RFC 3263 failover through the production wiring: `POST /v1/calls` names a trunk by DNS name only, dnsmasq
 * (127.0.0.130:53053, DNS_SERVERS) answers NAPTR/SRV/A, and the first SRV target is dead — nothing listens
 * (TCP: connect refused), it never answers (UDP: no response within SIP_FAILOVER_TIMEOUT_MS) or it answers
 * 503 — so the call must reach the sipp UAS on the next target. A name without records fails with a clear
 * reason. Loopback block 127.0.0.130–139, ports 53000–53999.
 */
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsmasq, type Dnsmasq } from '../support/dnsmasq.js';
import { eventually } from '../support/eventually.js';
import { describeSipp, startSipp, type SippOptions } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';

const D = 'sbdns.test';
const DIALPLAN = {
  'dns.yaml': 'tenant: dns\nnumbers: ["100"]\nagent: { provider: echo }\noutbound: { allow: ["*"] }\n',
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('RFC 3263 outbound failover (dnsmasq + sipp)', () => {
  let dns: Dnsmasq;
  let srv: TestServer;

  beforeAll(async () => {
    dns = await startDnsmasq({
      address: '127.0.0.130',
      port: 53053,
      domain: D,
      ttlS: 300,
      naptr: [
        {
          name: `tcp.${D}`,
          order: 10,
          preference: 10,
          service: 'SIP+D2T',
          replacement: `_sip._tcp.tcp.${D}`,
        },
      ],
      srv: [
        // Listed best-last: the order must come from the priorities, not from the answer.
        { name: `_sip._tcp.tcp.${D}`, target: `live.${D}`, port: 53062, priority: 20, weight: 10 },
        { name: `_sip._tcp.tcp.${D}`, target: `dead.${D}`, port: 53061, priority: 10, weight: 10 },
        // No NAPTR for udp.*: SRV per transport; the first target is silent.
        { name: `_sip._udp.udp.${D}`, target: `silent.${D}`, port: 53063, priority: 10, weight: 0 },
        { name: `_sip._udp.udp.${D}`, target: `live2.${D}`, port: 53064, priority: 20, weight: 0 },
        { name: `_sip._udp.busy.${D}`, target: `overloaded.${D}`, port: 53065, priority: 1, weight: 0 },
        { name: `_sip._udp.busy.${D}`, target: `live3.${D}`, port: 53066, priority: 2, weight: 0 },
      ],
      hosts: {
        [`dead.${D}`]: '127.0.0.131',
        [`live.${D}`]: '127.0.0.132',
        [`silent.${D}`]: '127.0.0.133',
        [`live2.${D}`]: '127.0.0.134',
        [`overloaded.${D}`]: '127.0.0.135',
        [`live3.${D}`]: '127.0.0.136',
      },
    });
    srv = await startTestServer({
      dialplans: DIALPLAN,
      env: { DNS_SERVERS: dns.server, SIP_FAILOVER_TIMEOUT_MS: '1500', SIP_TRANSPORTS: 'udp,tcp' },
    });
  }, 30_000);
  afterAll(async () => {
    await srv?.close();
    await dns?.stop();
  });

  function uas(
    address: string,
    port: number,
    transport: 'udp' | 'tcp',
    scenario: SippOptions['scenario'] = { builtin: 'uas' },
  ) {
    return startSipp({
      scenario,
      localIp: address,
      localPort: port,
      transport,
      mediaPort: port + 100,
      timeoutMs: 30_000,
      extraArgs: ['-rtp_echo'],
    });
  }

  async function callAndHangUp(to: string): Promise<void> {
    const dial = await srv.api('POST', '/v1/calls', { tenant: 'dns', to });
    expect(dial.status, JSON.stringify(dial.json)).toBe(201);
    await sleep(500);
    expect((await srv.api('DELETE', `/v1/calls/${String(dial.json.id)}`)).status).toBe(204);
  }

  it(
    'NAPTR → SRV over TCP: the dead first target is skipped, the call reaches the second',
    { timeout: 60_000 },
    async () => {
      const peer = uas('127.0.0.132', 53062, 'tcp');
      await sleep(500);
      await callAndHangUp(`sip:bot@tcp.${D}`);
      const r = await peer.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(r.messages).toMatch(/^INVITE sip:bot@tcp\.sbdns\.test SIP\/2\.0/m);
      expect(r.messages).toMatch(/^Via: SIP\/2\.0\/TCP /m);
      expect(srv.logs.join('')).toMatch(
        /"address":"127\.0\.0\.131","port":53061,"why":"503 Service Unavailable - Transport Error"/,
      );
      expect(dns.queries('NAPTR', `tcp.${D}`)).toBe(1);
    },
  );

  it('a second call to the same name is served from the TTL cache', { timeout: 60_000 }, async () => {
    const asked = {
      naptr: dns.queries('NAPTR', `tcp.${D}`),
      srv: dns.queries('SRV', `_sip._tcp.tcp.${D}`),
      a: dns.queries('A', `live.${D}`),
    };
    expect(asked).toEqual({ naptr: 1, srv: 1, a: 1 });
    const peer = uas('127.0.0.132', 53062, 'tcp');
    await sleep(500);
    await callAndHangUp(`sip:again@tcp.${D}`);
    const r = await peer.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect({
      naptr: dns.queries('NAPTR', `tcp.${D}`),
      srv: dns.queries('SRV', `_sip._tcp.tcp.${D}`),
      a: dns.queries('A', `live.${D}`),
    }).toEqual(asked);
  });

  it(
    'the trunk path over UDP: a silent first target is abandoned after the failover timeout',
    { timeout: 60_000 },
    async () => {
      const put = await srv.api('PUT', '/v1/tenants/dns/credentials/sip-trunk', { uri: `sip:udp.${D}` });
      expect(put.status, JSON.stringify(put.json)).toBeLessThan(300);
      // A socket on the silent address swallows the INVITE (no ICMP, no answer): a true timeout.
      const silent = createSocket('udp4');
      const swallowed: string[] = [];
      silent.on('message', (m) => swallowed.push(m.toString('latin1').split('\r\n')[0] ?? ''));
      await new Promise<void>((resolve) => silent.bind(53063, '127.0.0.133', resolve));
      const peer = uas('127.0.0.134', 53064, 'udp');
      await sleep(500);
      await callAndHangUp('+14155550100');
      const r = await peer.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(r.messages).toMatch(/^INVITE sip:\+14155550100@udp\.sbdns\.test SIP\/2\.0/m);
      expect(srv.logs.join('')).toMatch(/"address":"127\.0\.0\.133","port":53063,"why":"no response"/);
      silent.close();
      expect(swallowed[0]).toBe('INVITE sip:+14155550100@udp.sbdns.test SIP/2.0');
      await srv.api('DELETE', '/v1/tenants/dns/credentials/sip-trunk');
    },
  );

  it('a 503 from the first target moves the call to the next', { timeout: 60_000 }, async () => {
    const busy = uas('127.0.0.135', 53065, 'udp', 'uas-503.xml');
    const peer = uas('127.0.0.136', 53066, 'udp');
    await sleep(500);
    await callAndHangUp(`sip:bot@busy.${D}`);
    const b = await busy.result;
    expect(b.exitCode, describeSipp(b)).toBe(0);
    const r = await peer.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(srv.logs.join('')).toMatch(
      /"address":"127\.0\.0\.135","port":53065,"why":"503 Service Unavailable"/,
    );
  });

  it('a name without records fails the call with a clear reason', { timeout: 30_000 }, async () => {
    const dial = await srv.api('POST', '/v1/calls', { tenant: 'dns', to: `sip:bot@nowhere.${D}` });
    expect(dial.status).toBe(502);
    expect(dial.json.error).toMatchObject({
      code: 'SIP_503',
      message: `dns: no NAPTR/SRV/A records for nowhere.${D}`,
    });
    await eventually(async () => expect((await srv.api('GET', '/v1/calls')).json.calls).toHaveLength(0));
  });
});
