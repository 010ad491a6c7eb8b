/**
 * Mutual TLS (SIP_TLS_CA + SIP_TLS_VERIFY_CLIENT) with `openssl s_client` as the client: under `require` a
 * client without a certificate, or with one from another CA, gets no SIP service at all (the handshake is
 * refused, OpenSSL reports the alert); one signed by SIP_TLS_CA is served. Under `optional` a client without
 * a certificate is served, an untrusted one is still refused, and only a verified client may offer its
 * connection with a Via `alias` (RFC 5923 §9.1): the server's next INVITE to that address arrives on it.
 * Ports: Via sent-by 127.0.0.1:51100–51109 (nothing listens there).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedSignaling } from '../../../src/sip/embedded/index.js';
import { TlsClient } from '../../support/tls-client.js';
import type { KeyPair } from '../../support/tls-certs.js';
import { expectNothingLeaked } from '../conformance/harness.js';
import { makeTlsFixture, startTlsServer, type TlsFixture, type TlsServerUnderTest } from './harness.js';

function options(port: number, sentBy: number, branch: string, alias = false): string {
  return (
    `OPTIONS sip:100@127.0.0.1:${port} SIP/2.0\r\n` +
    `Via: SIP/2.0/TLS 127.0.0.1:${sentBy};branch=z9hG4bK${branch};rport${alias ? ';alias' : ''}\r\n` +
    'Max-Forwards: 70\r\nFrom: <sip:trunk@127.0.0.1>;tag=mtls\r\n' +
    `To: <sip:100@127.0.0.1>\r\nCall-ID: ${branch}@mtls\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`
  );
}

async function optionsAnswered(sut: TlsServerUnderTest, client: TlsClient, branch: string): Promise<number> {
  expect(await client.connected()).toBe(0);
  client.write(options(sut.tlsPort, 51100, branch));
  return (await client.waitForMessage((m) => m.status !== undefined, 10_000)).status ?? 0;
}

/** Sends OPTIONS and expects no answer: the connection is closed by the server's alert. */
async function refused(sut: TlsServerUnderTest, client: TlsClient, branch: string): Promise<string> {
  await client.connected();
  client.write(options(sut.tlsPort, 51100, branch));
  const code = await Promise.race([
    client.process.exited,
    new Promise<'running'>((r) => setTimeout(() => r('running'), 10_000)),
  ]);
  expect(code, client.process.tail()).not.toBe('running');
  expect(client.messages().filter((m) => m.status !== undefined)).toHaveLength(0);
  return client.process.output();
}

/** A client certificate from a CA the server does not trust. */
async function rogueCertificate(fixture: TlsFixture): Promise<KeyPair> {
  const otherCa = await fixture.material.ca('rogue-ca');
  return fixture.material.issue(otherCa, { name: 'rogue', commonName: 'rogue.test', serial: '6001' });
}

describe('mutual TLS: SIP_TLS_VERIFY_CLIENT=require', { timeout: 60_000 }, () => {
  let fixture: TlsFixture;
  let rogue: KeyPair;
  let sut: TlsServerUnderTest;
  beforeAll(async () => {
    fixture = await makeTlsFixture();
    rogue = await rogueCertificate(fixture);
    sut = await startTlsServer({
      fixture,
      tlsEnv: (f) => ({ SIP_TLS_CA: f.ca.cert, SIP_TLS_VERIFY_CLIENT: 'require' }),
    });
  }, 60_000);
  afterAll(async () => {
    await sut?.close();
    await fixture?.material.cleanup();
  }, 30_000);

  it('serves a client whose certificate chains to SIP_TLS_CA', async () => {
    const client = new TlsClient({
      port: sut.tlsPort,
      caFile: sut.ca.cert,
      cert: sut.clientCert.cert,
      key: sut.clientCert.key,
    });
    try {
      expect(await optionsAnswered(sut, client, 'good1')).toBe(200);
    } finally {
      await client.close();
    }
  });

  it('refuses a client without a certificate and one signed by another CA', async () => {
    const failedBefore = (sut.srv.server.signaling as EmbeddedSignaling).stats.tlsHandshakeFailed;
    const bare = new TlsClient({ port: sut.tlsPort, caFile: sut.ca.cert });
    try {
      // TLS 1.3: the server's verdict on the client arrives as an alert after the client's Finished.
      expect(await refused(sut, bare, 'bare1')).toMatch(/alert certificate required|handshake failure/i);
    } finally {
      await bare.close();
    }
    const untrusted = new TlsClient({
      port: sut.tlsPort,
      caFile: sut.ca.cert,
      cert: rogue.cert,
      key: rogue.key,
    });
    try {
      expect(await refused(sut, untrusted, 'rogue1')).toMatch(/alert unknown ca|certificate/i);
    } finally {
      await untrusted.close();
    }
    expect((sut.srv.server.signaling as EmbeddedSignaling).stats.tlsHandshakeFailed).toBe(failedBefore + 2);
    expect(sut.srv.server.calls.size).toBe(0);
  });
});

describe('client certificates: SIP_TLS_VERIFY_CLIENT=optional, RFC 5923 alias', { timeout: 60_000 }, () => {
  let fixture: TlsFixture;
  let rogue: KeyPair;
  let sut: TlsServerUnderTest;
  beforeAll(async () => {
    fixture = await makeTlsFixture();
    rogue = await rogueCertificate(fixture);
    sut = await startTlsServer({
      fixture,
      dialplans: {
        'conformance.yaml':
          'tenant: conformance\nnumbers: ["*"]\nagent: { provider: echo }\noutbound: { allow: ["*"] }\n',
      },
      tlsEnv: (f) => ({ SIP_TLS_CA: f.ca.cert, SIP_TLS_VERIFY_CLIENT: 'optional' }),
    });
  }, 60_000);
  afterAll(async () => {
    await sut?.close();
    await fixture?.material.cleanup();
  }, 30_000);

  it('serves a client without a certificate; refuses an untrusted one', async () => {
    const bare = new TlsClient({ port: sut.tlsPort, caFile: sut.ca.cert });
    try {
      expect(await optionsAnswered(sut, bare, 'opt-bare')).toBe(200);
    } finally {
      await bare.close();
    }
    const untrusted = new TlsClient({
      port: sut.tlsPort,
      caFile: sut.ca.cert,
      cert: rogue.cert,
      key: rogue.key,
    });
    try {
      await refused(sut, untrusted, 'opt-rogue');
    } finally {
      await untrusted.close();
    }
  });

  it('a verified client offering ;alias gets the next INVITE to its sent-by address on its connection', async () => {
    const client = new TlsClient({
      port: sut.tlsPort,
      caFile: sut.ca.cert,
      cert: sut.clientCert.cert,
      key: sut.clientCert.key,
    });
    try {
      expect(await client.connected()).toBe(0);
      client.write(options(sut.tlsPort, 51102, 'alias1', true));
      expect((await client.waitForMessage((m) => m.status !== undefined)).status).toBe(200);
      // Nothing listens on 127.0.0.1:51102: the INVITE can only arrive over the aliased connection.
      const dial = sut.srv.api('POST', '/v1/calls', {
        tenant: 'conformance',
        to: 'sip:bot@127.0.0.1:51102;transport=tls',
      });
      const invite = await client.waitForMessage((m) => m.method === 'INVITE');
      expect(invite.header('Via')).toMatch(/^SIP\/2\.0\/TLS 127\.0\.0\.1:\d+;branch=.*;alias/);
      expect(invite.header('Contact')).toMatch(/;transport=tls>$/);
      const via = invite.headers.filter((h) => /^via\s*:/i.test(h)).join('\r\n');
      client.write(
        `SIP/2.0 486 Busy Here\r\n${via}\r\nFrom: ${invite.header('From') ?? ''}\r\n` +
          `To: ${invite.header('To') ?? ''};tag=busy\r\nCall-ID: ${invite.header('Call-ID') ?? ''}\r\n` +
          `CSeq: ${invite.header('CSeq') ?? ''}\r\nContent-Length: 0\r\n\r\n`,
      );
      const answer = await dial;
      expect(answer.json?.error?.code, JSON.stringify(answer.json)).toBe('SIP_486');
      await expectNothingLeaked(sut);
    } finally {
      await client.close();
    }
  });

  it('a client without a certificate cannot alias: the INVITE to its sent-by address is not sent on its connection', async () => {
    const client = new TlsClient({ port: sut.tlsPort, caFile: sut.ca.cert });
    try {
      expect(await client.connected()).toBe(0);
      client.write(options(sut.tlsPort, 51104, 'alias2', true));
      expect((await client.waitForMessage((m) => m.status !== undefined)).status).toBe(200);
      const answer = await sut.srv.api('POST', '/v1/calls', {
        tenant: 'conformance',
        to: 'sip:bot@127.0.0.1:51104;transport=tls',
      });
      // A new connection to 51104 is refused (nothing listens): 503, and nothing came over this connection.
      expect(answer.json?.error?.code, JSON.stringify(answer.json)).toBe('SIP_503');
      expect(client.messages().some((m) => m.method === 'INVITE')).toBe(false);
      await expectNothingLeaked(sut);
    } finally {
      await client.close();
    }
  });
});
