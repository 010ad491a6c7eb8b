/**
 * Certificate rotation without a restart (SIP_TLS_RELOAD_MS): the files are replaced in place; new TLS
 * connections, as `openssl s_client` sees them, get the new certificate's serial while a connection opened
 * before keeps working; a file that does not load (garbage) changes nothing and is reported once; the private
 * key never reaches a log line.
 */
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TlsClient } from '../../support/tls-client.js';
import { makeTlsFixture, startTlsServer, type TlsFixture, type TlsServerUnderTest } from './harness.js';

const RELOAD_MS = 200;

function options(port: number, branch: string): string {
  return (
    `OPTIONS sip:100@127.0.0.1:${port} SIP/2.0\r\n` +
    `Via: SIP/2.0/TLS 127.0.0.1:51200;branch=z9hG4bK${branch};rport\r\n` +
    'Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=reload\r\n' +
    `To: <sip:100@127.0.0.1>\r\nCall-ID: ${branch}@reload\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`
  );
}

/** The serial a brand-new connection is shown (and verified: the chain and the 127.0.0.1 SAN). */
async function servedSerial(sut: TlsServerUnderTest): Promise<string> {
  const client = new TlsClient({ port: sut.tlsPort, caFile: sut.ca.cert });
  try {
    expect(await client.connected(), client.process.tail()).toBe(0);
    return client.peerSerial();
  } finally {
    await client.close();
  }
}

/** Polls new connections until one shows `serial` (bounded by `attempts` handshakes). */
async function untilServed(sut: TlsServerUnderTest, serial: string, attempts = 40): Promise<number> {
  for (let i = 1; i <= attempts; i++) {
    if ((await servedSerial(sut)) === serial) return i;
    await new Promise((r) => setTimeout(r, RELOAD_MS));
  }
  throw new Error(`serial ${serial} never served in ${attempts} handshakes`);
}

describe('SIP over TLS: certificate reload', { timeout: 90_000 }, () => {
  let fixture: TlsFixture;
  let sut: TlsServerUnderTest;
  beforeAll(async () => {
    fixture = await makeTlsFixture();
    sut = await startTlsServer({ fixture, tlsEnv: () => ({ SIP_TLS_RELOAD_MS: String(RELOAD_MS) }) });
  }, 60_000);
  afterAll(async () => {
    await sut?.close();
    await fixture?.material.cleanup();
  }, 30_000);

  it('new connections get the replaced certificate; an open connection keeps working', async () => {
    expect(await servedSerial(sut)).toBe('1001');
    const early = new TlsClient({ port: sut.tlsPort, caFile: sut.ca.cert });
    try {
      expect(await early.connected()).toBe(0);
      expect(early.peerSerial()).toBe('1001');
      const next = await fixture.material.issue(fixture.ca, {
        name: 'server-next',
        commonName: 'switchboard.test',
        ips: ['127.0.0.1'],
        serial: '1002',
      });
      // In place, one file after the other: for a moment the key does not match the certificate.
      await copyFile(next.cert, fixture.serverCert.cert);
      await copyFile(next.key, fixture.serverCert.key);
      const handshakes = await untilServed(sut, '1002');
      console.info(
        `[tls-reload] new serial served after ${handshakes} handshake(s) at ${RELOAD_MS} ms polling`,
      );
      early.write(options(sut.tlsPort, 'early1'));
      expect((await early.waitForMessage((m) => m.status !== undefined)).status).toBe(200);
      expect(sut.srv.logs.some((l) => l.includes('"sip tls certificate reloaded"'))).toBe(true);
    } finally {
      await early.close();
    }
  });

  it('a certificate file that does not load changes nothing and is reported once', async () => {
    const before = await servedSerial(sut);
    const rejected = (): number =>
      sut.srv.logs.filter(
        (l) =>
          l.includes('"level":40') &&
          l.includes('"sip tls certificate change rejected; keeping the current certificate"'),
      ).length;
    const rejectedBefore = rejected();
    // Swapped in whole (rename), as a deployment tool does, and then garbled in place by a partial copy.
    const garbage = `${fixture.serverCert.cert}.new`;
    await writeFile(garbage, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    await rename(garbage, fixture.serverCert.cert);
    await new Promise((r) => setTimeout(r, 3 * RELOAD_MS));
    await writeFile(fixture.serverCert.cert, '-----BEGIN CERTIFICATE-----\nstill not\n');
    // Ten poll intervals: two bad versions, seen many times, reported once (at warn level).
    for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, RELOAD_MS));
    expect(rejected()).toBe(rejectedBefore + 1);
    expect(await servedSerial(sut)).toBe(before);
    expect(sut.srv.server.signaling.connected).toBe(true);
  });

  it('never logs the private key', async () => {
    const keyBody = (await readFile(fixture.serverCert.key, 'utf8'))
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('-----'));
    expect(keyBody.length).toBeGreaterThan(0);
    for (const line of keyBody) expect(sut.srv.logs.some((l) => l.includes(line))).toBe(false);
  });
});
