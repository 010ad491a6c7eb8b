/**
 * The TCP front-door protections over TLS (issue 11 limits + a TLS handshake deadline). An attacker on
 * 127.0.0.110 floods the TLS port with raw TCP connections (admission is decided before any handshake work),
 * drips a real ClientHello one byte at a time or sends nothing (handshake deadline), completes a handshake
 * and then drips an INVITE (header deadline) or only CRLF keep-alives (idle timeout). A victim using
 * `openssl s_client` from 127.0.0.1 still gets OPTIONS answered, and its quiet call — longer than the idle
 * timeout — keeps its connection. Deadlines are asserted in the attacker's own units (bytes dripped at a
 * fixed interval, tolerance 2×), never in wall-clock time. Ports: a ClientHello capture on 127.0.0.110:51300,
 * Via sent-by 127.0.0.1:51310–51319.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedSignaling } from '../../../src/sip/embedded/index.js';
import { closeAll, drip, openTcp, probe, type TcpProbe } from '../../support/attacker.js';
import { TlsClient, type WireMessage } from '../../support/tls-client.js';
import { eventually, expectNothingLeaked } from '../conformance/harness.js';
import { startTlsServer, type TlsServerUnderTest } from './harness.js';

const ATTACKER = '127.0.0.110';
const DRIP_INTERVAL_MS = 100;

function request(
  method: string,
  port: number,
  o: { callId: string; cseq: number; branch: string; toTag?: string; body?: string },
): string {
  const uri = `sip:100@127.0.0.1:${port}`;
  const body = o.body ?? '';
  return (
    `${method} ${uri} SIP/2.0\r\n` +
    `Via: SIP/2.0/TLS 127.0.0.1:51310;branch=z9hG4bK${o.branch};rport\r\n` +
    'Max-Forwards: 70\r\nFrom: <sip:victim@127.0.0.1>;tag=victim\r\n' +
    `To: <${uri}>${o.toTag === undefined ? '' : `;tag=${o.toTag}`}\r\n` +
    `Call-ID: ${o.callId}\r\nCSeq: ${o.cseq} ${method}\r\nContact: <sip:victim@127.0.0.1:51310;transport=tls>\r\n` +
    (body === '' ? '' : 'Content-Type: application/sdp\r\n') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

const SDP =
  'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 51312 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

async function settle(probes: readonly TcpProbe[], closedAtLeast: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (probes.filter((p) => p.isClosed()).length < closedAtLeast && Date.now() < deadline) {
    await Promise.race([
      Promise.any(probes.filter((p) => !p.isClosed()).map((p) => p.closed)),
      new Promise((r) => setTimeout(r, 250)),
    ]);
  }
}

/** A real ClientHello, as a TLS client sends it first: captured by a plain TCP listener. */
async function captureClientHello(): Promise<Buffer> {
  const server = net.createServer();
  const hello = new Promise<Buffer>((resolve) =>
    server.once('connection', (s) => {
      s.on('error', () => undefined);
      s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
      });
    }),
  );
  await new Promise<void>((r) => server.listen(51300, ATTACKER, r));
  const client = tls.connect({ host: ATTACKER, port: 51300, servername: 'switchboard.test' });
  client.on('error', () => undefined);
  try {
    return await hello;
  } finally {
    client.destroy();
    server.close();
  }
}

/** `count` completed TLS handshakes from the attacker's address (it does not check our certificate). */
async function openTls(port: number, count: number): Promise<TcpProbe[]> {
  const out: TcpProbe[] = [];
  for (let i = 0; i < count; i++) {
    const raw = net.connect({ host: '127.0.0.1', port, localAddress: ATTACKER });
    const socket = tls.connect({ socket: raw, rejectUnauthorized: false });
    out.push(probe(socket));
    await new Promise<void>((resolve) => {
      socket.once('secureConnect', () => resolve());
      socket.once('close', () => resolve());
    });
  }
  return out;
}

async function victimOptions(sut: TlsServerUnderTest, branch: string): Promise<WireMessage> {
  const victim = new TlsClient({ port: sut.tlsPort, caFile: sut.ca.cert });
  try {
    expect(await victim.connected()).toBe(0);
    victim.write(request('OPTIONS', sut.tlsPort, { callId: `${branch}@victim`, cseq: 1, branch }));
    return await victim.waitForMessage((m) => m.status !== undefined);
  } finally {
    await victim.close();
  }
}

const stats = (sut: TlsServerUnderTest) => (sut.srv.server.signaling as EmbeddedSignaling).stats;

describe('SIP over TLS front door: a connection flood from one source', { timeout: 60_000 }, () => {
  let sut: TlsServerUnderTest;
  const PER_SOURCE = 4;
  const GLOBAL = 12;
  beforeAll(async () => {
    sut = await startTlsServer({
      logLevel: 'info',
      env: { SIP_TCP_MAX_PER_SOURCE: String(PER_SOURCE), SIP_TCP_MAX_CONNECTIONS: String(GLOBAL) },
    });
  }, 60_000);
  afterAll(async () => {
    await sut?.close();
  }, 30_000);

  it('caps raw TCP connections to the TLS port per source before any handshake; the victim is served', async () => {
    const attempts = GLOBAL * 3;
    const probes = await openTcp({
      host: '127.0.0.1',
      port: sut.tlsPort,
      localAddress: ATTACKER,
      count: attempts,
    });
    try {
      await settle(probes, attempts - PER_SOURCE, 10_000);
      // The handshake deadline (default 5 s) has not run out: exactly the per-source cap is held.
      expect(probes.filter((p) => !p.isClosed()).length).toBe(PER_SOURCE);
      expect(stats(sut).tlsHandshakeTimeoutClosed).toBe(0);
      expect((await victimOptions(sut, 'flood1')).status).toBe(200);
      expect(probes.filter((p) => !p.isClosed()).length).toBe(PER_SOURCE);
      console.info(
        `[tls-limits] flood: ${attempts} connections from ${ATTACKER}, ${PER_SOURCE} held; victim served`,
      );
    } finally {
      closeAll(probes);
    }
  });
});

describe('SIP over TLS front door: slow handshakes, drips and idle connections', { timeout: 90_000 }, () => {
  let sut: TlsServerUnderTest;
  const HANDSHAKE_MS = 1000;
  const HEADER_MS = 1000;
  const IDLE_MS = 1500;
  beforeAll(async () => {
    sut = await startTlsServer({
      logLevel: 'info',
      env: {
        SIP_TLS_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_MS),
        SIP_TCP_HEADER_TIMEOUT_MS: String(HEADER_MS),
        SIP_TCP_IDLE_MS: String(IDLE_MS),
      },
    });
  }, 60_000);
  afterAll(async () => {
    await sut?.close();
  }, 30_000);

  it('closes a ClientHello drip and a silent connection at the handshake deadline', async () => {
    const hello = await captureClientHello();
    expect(hello[0]).toBe(0x16); // a TLS handshake record
    expect(hello.length).toBeGreaterThan(100);
    const before = stats(sut).tlsHandshakeTimeoutClosed;
    const drippers = await openTcp({
      host: '127.0.0.1',
      port: sut.tlsPort,
      localAddress: ATTACKER,
      count: 3,
    });
    const silent = await openTcp({ host: '127.0.0.1', port: sut.tlsPort, localAddress: ATTACKER, count: 2 });
    try {
      await drip(drippers, hello.toString('latin1'), DRIP_INTERVAL_MS);
      // Handshake deadline 1000 ms at one byte per 100 ms: 10 bytes, tolerance 2×; the whole hello is >100.
      const dripped = drippers.map((p) => p.bytesWritten());
      expect(drippers.every((p) => p.isClosed())).toBe(true);
      expect(Math.max(...dripped)).toBeLessThanOrEqual(2 * (HANDSHAKE_MS / DRIP_INTERVAL_MS));
      await settle(silent, silent.length, 10_000);
      expect(silent.every((p) => p.isClosed())).toBe(true);
      expect(stats(sut).tlsHandshakeTimeoutClosed - before).toBe(drippers.length + silent.length);
      console.info(
        `[tls-limits] ClientHello drip closed after ${Math.max(...dripped)} of ${hello.length} bytes`,
      );
    } finally {
      closeAll([...drippers, ...silent]);
    }
  });

  it('after the handshake: header deadline and idle timeout hold; a quiet TLS call keeps its connection', async () => {
    const victim = new TlsClient({ port: sut.tlsPort, caFile: sut.ca.cert });
    const drippers = await openTls(sut.tlsPort, 3);
    const idlers = await openTls(sut.tlsPort, 2);
    try {
      expect(drippers.every((p) => !p.isClosed())).toBe(true);
      expect(await victim.connected()).toBe(0);
      victim.write(
        request('INVITE', sut.tlsPort, { callId: 'quiet@victim', cseq: 1, branch: 'qinv', body: SDP }),
      );
      const ok = await victim.waitForMessage((m) => m.status === 200);
      const toTag = /;tag=([^;>\s]+)/.exec(ok.header('To') ?? '')?.[1] ?? '';
      victim.write(request('ACK', sut.tlsPort, { callId: 'quiet@victim', cseq: 1, branch: 'qack', toTag }));
      const invite = request('INVITE', sut.tlsPort, {
        callId: 'drip@attacker',
        cseq: 1,
        branch: 'drip',
        body: SDP,
      });
      // The victim says nothing on its connection while the attacker drips, and for twice the idle timeout after.
      await Promise.all([
        drip(drippers, invite, DRIP_INTERVAL_MS),
        drip(idlers, '\r\n'.repeat(200), DRIP_INTERVAL_MS),
      ]);
      const dripBytes = Math.max(...drippers.map((p) => p.bytesWritten()));
      const idleBytes = Math.max(...idlers.map((p) => p.bytesWritten()));
      expect(drippers.every((p) => p.isClosed())).toBe(true);
      expect(dripBytes).toBeLessThanOrEqual(2 * (HEADER_MS / DRIP_INTERVAL_MS));
      expect(invite.length).toBeGreaterThan(200);
      expect(idlers.every((p) => p.isClosed())).toBe(true);
      expect(idleBytes).toBeLessThanOrEqual(2 * (IDLE_MS / DRIP_INTERVAL_MS));
      await new Promise((r) => setTimeout(r, 2 * IDLE_MS));
      // Still there: the connection carrying the dialog is exempt from the idle timeout.
      expect(victim.process.running).toBe(true);
      victim.write(request('BYE', sut.tlsPort, { callId: 'quiet@victim', cseq: 2, branch: 'qbye', toTag }));
      const byeOk = await victim.waitForMessage(
        (m) => m.status === 200 && /BYE/.test(m.header('CSeq') ?? ''),
      );
      expect(byeOk.header('Call-ID')).toBe('quiet@victim');
      await eventually(() => expect(sut.srv.server.calls.size).toBe(0));
      await expectNothingLeaked(sut);
      console.info(`[tls-limits] INVITE drip closed after ${dripBytes} bytes, CRLF drip after ${idleBytes}`);
    } finally {
      closeAll([...drippers, ...idlers]);
      await victim.close();
    }
  });
});
