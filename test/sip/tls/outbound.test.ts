/**
 * Outbound SIP over TLS to a trunk named by host name, with `openssl s_server` as the independent TLS peer
 * and dnsmasq answering the A records: the server resolves `pbx.tls.test`, sends it as SNI (s_server switches
 * to its certificate for that name), verifies the certificate against SIP_TLS_CA and the name dialled, and
 * the INVITE arrives over TLS. A name the certificate does not carry (`wrong.tls.test`, same address) fails
 * verification: the call fails with SIP_503 and no INVITE reaches the peer.
 * Ports: dnsmasq 127.0.0.114:51500; s_server 127.0.0.113:51410 and :51411.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { startDnsmasq, type Dnsmasq } from '../../support/dnsmasq.js';
import { PeerProcess } from '../../support/peer-process.js';
import { sipMessages } from '../../support/tls-client.js';
import type { KeyPair } from '../../support/tls-certs.js';
import { expectNothingLeaked } from '../conformance/harness.js';
import { makeTlsFixture, startTlsServer, type TlsFixture, type TlsServerUnderTest } from './harness.js';

const PEER = '127.0.0.113';
const PLAN = 'tenant: conformance\nnumbers: ["*"]\nagent: { provider: echo }\noutbound: { allow: ["*"] }\n';

/** s_server: `other` for connections without (or with another) SNI, `named` for SNI pbx.tls.test. */
function sServer(port: number, other: KeyPair, named: KeyPair): PeerProcess {
  return new PeerProcess({
    command: 'openssl',
    args: [
      's_server',
      '-accept',
      `${PEER}:${port}`,
      '-cert',
      other.cert,
      '-key',
      other.key,
      '-servername',
      'pbx.tls.test',
      '-cert2',
      named.cert,
      '-key2',
      named.key,
      '-ign_eof',
    ],
    cwd: tmpdir(),
  });
}

describe('outbound SIP over TLS by host name: SNI and certificate name checks', { timeout: 90_000 }, () => {
  let fixture: TlsFixture;
  let dns: Dnsmasq;
  let sut: TlsServerUnderTest;
  let pbx: KeyPair;
  let other: KeyPair;
  beforeAll(async () => {
    fixture = await makeTlsFixture();
    pbx = await fixture.material.issue(fixture.ca, {
      name: 'pbx',
      commonName: 'pbx.tls.test',
      dns: ['pbx.tls.test'],
      serial: '7001',
    });
    other = await fixture.material.issue(fixture.ca, {
      name: 'other',
      commonName: 'other.tls.test',
      dns: ['other.tls.test'],
      serial: '7002',
    });
    dns = await startDnsmasq({
      address: '127.0.0.114',
      port: 51500,
      domain: 'tls.test',
      ttlS: 60,
      hosts: { 'pbx.tls.test': PEER, 'wrong.tls.test': PEER },
    });
    sut = await startTlsServer({
      fixture,
      dialplans: { 'conformance.yaml': PLAN },
      tlsEnv: (f) => ({ SIP_TLS_CA: f.ca.cert }),
      env: { DNS_SERVERS: dns.server },
    });
  }, 60_000);
  afterAll(async () => {
    await sut?.close();
    await dns?.stop();
    await fixture?.material.cleanup();
  }, 30_000);

  async function trunk(uri: string): Promise<void> {
    const put = await sut.srv.api('PUT', '/v1/tenants/conformance/credentials/sip-trunk', { uri });
    expect(put.status, JSON.stringify(put.json)).toBeLessThan(300);
  }

  it('sends SNI pbx.tls.test, accepts the CA-signed certificate for it, and the INVITE arrives over TLS', async () => {
    const server = sServer(51410, other, pbx);
    try {
      await server.waitFor(/ACCEPT/, 10_000);
      await trunk('sip:pbx.tls.test:51410;transport=tls');
      const dial = sut.srv.api('POST', '/v1/calls', { tenant: 'conformance', to: '4155550100' });
      await server.waitFor(/^INVITE sip:4155550100@pbx\.tls\.test:51410;transport=tls SIP\/2\.0/, 15_000);
      // s_server switches to the -cert2 context only for the SNI name it was given.
      expect(server.output()).toMatch(/Switching server context/);
      const invite = sipMessages(server.output()).find((m) => m.method === 'INVITE');
      expect(invite?.header('Via')).toMatch(/^SIP\/2\.0\/TLS 127\.0\.0\.1:\d+;branch=/);
      expect(invite?.header('Contact')).toMatch(/;transport=tls>$/);
      const via = invite?.headers.filter((h) => /^via\s*:/i.test(h)).join('\r\n') ?? '';
      server.write(
        `SIP/2.0 486 Busy Here\r\n${via}\r\nFrom: ${invite?.header('From') ?? ''}\r\n` +
          `To: ${invite?.header('To') ?? ''};tag=pbx\r\nCall-ID: ${invite?.header('Call-ID') ?? ''}\r\n` +
          `CSeq: ${invite?.header('CSeq') ?? ''}\r\nContent-Length: 0\r\n\r\n`,
      );
      const answer = await dial;
      expect(answer.json?.error?.code, JSON.stringify(answer.json)).toBe('SIP_486');
      await expectNothingLeaked(sut);
    } finally {
      await server.stop(1000);
    }
  });

  it('refuses a certificate that does not name the host dialled: SIP_503, no INVITE sent', async () => {
    const server = sServer(51411, other, pbx);
    try {
      await server.waitFor(/ACCEPT/, 10_000);
      await trunk('sip:wrong.tls.test:51411;transport=tls');
      const answer = await sut.srv.api('POST', '/v1/calls', { tenant: 'conformance', to: '4155550100' });
      expect(answer.json?.error?.code, JSON.stringify(answer.json)).toBe('SIP_503');
      expect(server.output()).not.toMatch(/^INVITE /m);
      expect(sut.srv.logs.some((l) => /does not match certificate|altnames/i.test(l))).toBe(true);
      await expectNothingLeaked(sut);
    } finally {
      await server.stop(1000);
    }
  });
});
