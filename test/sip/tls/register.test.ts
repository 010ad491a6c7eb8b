/**
 * REGISTER over TLS (`transport: "tls"` in a registration): `openssl s_server` plays the registrar with a
 * certificate for its address signed by SIP_TLS_CA; the REGISTER arrives over TLS with a TLS Via and a
 * `;transport=tls` Contact on our TLS port, the 200 makes the registration `registered`, and the password
 * never reaches a log line. Ports: s_server 127.0.0.115:51600.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../support/eventually.js';
import { PeerProcess } from '../../support/peer-process.js';
import { sipMessages } from '../../support/tls-client.js';
import { makeTlsFixture, startTlsServer, type TlsFixture, type TlsServerUnderTest } from './harness.js';

const REGISTRAR = '127.0.0.115';
const PASSWORD = `pw-${randomBytes(8).toString('hex')}`;

describe('REGISTER over TLS to an openssl s_server registrar', { timeout: 60_000 }, () => {
  let fixture: TlsFixture;
  let sut: TlsServerUnderTest;
  let registrar: PeerProcess;
  beforeAll(async () => {
    fixture = await makeTlsFixture();
    const cert = await fixture.material.issue(fixture.ca, {
      name: 'registrar',
      commonName: 'registrar.test',
      ips: [REGISTRAR],
      serial: '8001',
    });
    registrar = new PeerProcess({
      command: 'openssl',
      args: ['s_server', '-accept', `${REGISTRAR}:51600`, '-cert', cert.cert, '-key', cert.key, '-ign_eof'],
      cwd: tmpdir(),
    });
    await registrar.waitFor(/ACCEPT/, 10_000);
    sut = await startTlsServer({ fixture, tlsEnv: (f) => ({ SIP_TLS_CA: f.ca.cert }) });
  }, 60_000);
  afterAll(async () => {
    await sut?.close();
    await registrar?.stop(1000);
    await fixture?.material.cleanup();
  }, 30_000);

  it('registers over a verified TLS connection', async () => {
    const put = await sut.srv.api('PUT', '/v1/tenants/conformance/registrations/pbx', {
      aor: `sip:agent@${REGISTRAR}`,
      registrar: `sip:${REGISTRAR}:51600`,
      username: 'agent',
      password: PASSWORD,
      expires_s: 120,
      transport: 'tls',
    });
    expect(put.status, JSON.stringify(put.json)).toBeLessThan(300);
    await registrar.waitFor(/^REGISTER sip:127\.0\.0\.115:51600(;transport=tls)? SIP\/2\.0/, 15_000);
    await eventually(() =>
      expect(sipMessages(registrar.output()).some((m) => m.method === 'REGISTER')).toBe(true),
    );
    const register = sipMessages(registrar.output()).find((m) => m.method === 'REGISTER')!;
    expect(register.header('Via')).toMatch(/^SIP\/2\.0\/TLS 127\.0\.0\.1:\d+;branch=/);
    const contact = register.header('Contact') ?? '';
    expect(contact).toContain(`127.0.0.1:${sut.tlsPort};transport=tls`);
    const via = register.headers.filter((h) => /^via\s*:/i.test(h)).join('\r\n');
    registrar.write(
      `SIP/2.0 200 OK\r\n${via}\r\nFrom: ${register.header('From') ?? ''}\r\n` +
        `To: ${register.header('To') ?? ''};tag=reg\r\nCall-ID: ${register.header('Call-ID') ?? ''}\r\n` +
        `CSeq: ${register.header('CSeq') ?? ''}\r\nContact: ${contact};expires=120\r\nContent-Length: 0\r\n\r\n`,
    );
    await eventually(async () => {
      const got = await sut.srv.api('GET', '/v1/tenants/conformance/registrations/pbx');
      expect(got.json?.state, JSON.stringify(got.json)).toBe('registered');
    }, 10_000);
    expect(sut.srv.logs.some((l) => l.includes(PASSWORD))).toBe(false);
  });
});
