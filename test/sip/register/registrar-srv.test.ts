/**
 * The registrar found by RFC 3263 (issue 13): dnsmasq serves `_sip._udp.pbx.regtest.test` with two SRV
 * targets; the first (priority 10) is a sipp UAS answering 503, the second (priority 20) the Kamailio
 * registrar. The registration's first REGISTER goes to the first, fails with 503, and the retry after the
 * backoff goes to the second and is registered. Production server, HTTP API only.
 * Addresses: dnsmasq 127.0.0.122:52053, sipp 127.0.0.123:52070, Kamailio 127.0.0.120:52064.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsmasq, type Dnsmasq } from '../../support/dnsmasq.js';
import { eventually } from '../../support/eventually.js';
import { Registrar } from '../../support/kamailio-registrar.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { describeSipp, startSipp, type SippProcess } from '../../support/sipp.js';

const DOMAIN = 'regtest.test';
const PASSWORD = 'srv-Reg-pass-5b7d';

describe('REGISTER: registrar by SRV, failover from a 503 target', () => {
  let dns: Dnsmasq;
  let registrar: Registrar;
  let refusing: SippProcess;
  let srv: TestServer;

  beforeAll(async () => {
    dns = await startDnsmasq({
      address: '127.0.0.122',
      port: 52053,
      domain: DOMAIN,
      ttlS: 300,
      srv: [
        { name: `_sip._udp.pbx.${DOMAIN}`, target: `down.${DOMAIN}`, port: 52070, priority: 10, weight: 0 },
        { name: `_sip._udp.pbx.${DOMAIN}`, target: `up.${DOMAIN}`, port: 52064, priority: 20, weight: 0 },
      ],
      hosts: { [`down.${DOMAIN}`]: '127.0.0.123', [`up.${DOMAIN}`]: '127.0.0.120' },
    });
    registrar = await Registrar.start({
      listenIp: '127.0.0.120',
      port: 52064,
      username: '2002',
      password: PASSWORD,
      minExpiresS: 6,
    });
    refusing = startSipp({
      scenario: new URL('./scenarios/registrar-503.xml', import.meta.url).pathname,
      localIp: '127.0.0.123',
      localPort: 52070,
      timeoutMs: 40_000,
    });
    srv = await startTestServer({
      dialplans: { 'acme.yaml': 'tenant: acme\nnumbers: ["2002"]\nagent: { provider: echo }\n' },
      env: { DNS_SERVERS: dns.server },
      logLevel: 'info',
    });
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
    refusing?.kill();
    await registrar?.stop();
    await dns?.stop();
  });

  it('tries the SRV targets in priority order: 503 from the first, registered at the second', async () => {
    const put = await srv.api('PUT', '/v1/tenants/acme/registrations/srv', {
      aor: `sip:2002@pbx.${DOMAIN}`,
      registrar: `sip:pbx.${DOMAIN}`,
      username: '2002',
      password: PASSWORD,
      expires_s: 60,
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    // The first target's 503: sipp received the REGISTER and answered it, which ends its scenario.
    const r = await refusing.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(r.messages).toMatch(/REGISTER sip:pbx\.regtest\.test SIP\/2\.0/);
    // Backoff 2.5–5 s, then the second target: challenge, credentials, 200.
    await eventually(async () => {
      const view = (await srv.api('GET', '/v1/tenants/acme/registrations/srv')).json;
      expect(view.state, JSON.stringify(view)).toBe('registered');
    }, 20_000);
    expect(registrar.saved()).toBe(1);
    expect(dns.queries('SRV', `_sip._udp.pbx.${DOMAIN}`)).toBeGreaterThanOrEqual(1);
    const failures = srv.logs.filter((l) => l.includes('"registration failed"'));
    expect(failures.length).toBe(1);
    expect(failures[0]).toContain('"reason":"503 Service Unavailable"');
    const retry = JSON.parse(failures[0]!) as { retryInMs: number };
    console.log('[measure] srv failover', {
      retryInMs: retry.retryInMs,
      registers: registrar.registers().length,
    });
    expect(retry.retryInMs).toBeGreaterThanOrEqual(2_500);
    expect(retry.retryInMs).toBeLessThanOrEqual(5_000);
  }, 45_000);
});
