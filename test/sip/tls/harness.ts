/**
 * The production server (startServer via startTestServer, embedded backend) with SIP over TLS on an
 * ephemeral port, certificates made by openssl for this run: a CA, the server's certificate for 127.0.0.1
 * (serial 1001) and a client certificate (serial 3001) for mutual TLS.
 */
import type { EmbeddedSignaling } from '../../../src/sip/embedded/index.js';
import { ECHO_DIALPLAN, type ServerUnderTest } from '../conformance/harness.js';
import { startTestServer, type TestServerOptions } from '../../support/server.js';
import { TlsMaterial, type CertificateAuthority, type KeyPair } from '../../support/tls-certs.js';

export interface TlsServerUnderTest extends ServerUnderTest {
  readonly tlsPort: number;
  readonly material: TlsMaterial;
  readonly ca: CertificateAuthority;
  readonly serverCert: KeyPair;
  readonly clientCert: KeyPair;
}

export interface TlsFixture {
  readonly material: TlsMaterial;
  readonly ca: CertificateAuthority;
  readonly serverCert: KeyPair;
  readonly clientCert: KeyPair;
}

export async function makeTlsFixture(): Promise<TlsFixture> {
  const material = await TlsMaterial.create();
  const ca = await material.ca('switchboard-test-ca');
  const serverCert = await material.issue(ca, {
    name: 'server',
    commonName: 'switchboard.test',
    ips: ['127.0.0.1'],
    serial: '1001',
  });
  const clientCert = await material.issue(ca, {
    name: 'client',
    commonName: 'trunk.test',
    ips: ['127.0.0.1'],
    serial: '3001',
  });
  return { material, ca, serverCert, clientCert };
}

/** SIP env for TLS with the fixture's files (extra settings override). */
export function tlsEnv(f: TlsFixture, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SIP_TRANSPORTS: 'udp,tcp,tls',
    SIP_TLS_PORT: '0',
    SIP_TLS_CERT: f.serverCert.cert,
    SIP_TLS_KEY: f.serverCert.key,
    ...extra,
  };
}

export async function startTlsServer(
  options: TestServerOptions & {
    readonly fixture?: TlsFixture;
    /** Extra TLS settings, given the fixture's files. */
    readonly tlsEnv?: (f: TlsFixture) => Record<string, string>;
  } = {},
): Promise<TlsServerUnderTest> {
  const fixture = options.fixture ?? (await makeTlsFixture());
  const srv = await startTestServer({
    dialplans: { 'conformance.yaml': ECHO_DIALPLAN },
    logLevel: 'debug',
    ...options,
    env: { ...tlsEnv(fixture, options.tlsEnv?.(fixture)), ...options.env },
  });
  const tlsPort = (srv.server.signaling as EmbeddedSignaling).tlsPort;
  return {
    ...fixture,
    backend: 'embedded',
    srv,
    sipHost: '127.0.0.1',
    sipPort: srv.sipPort,
    target: `127.0.0.1:${srv.sipPort}`,
    tlsPort,
    close: async () => {
      await srv.close();
      if (options.fixture === undefined) await fixture.material.cleanup();
    },
  };
}
