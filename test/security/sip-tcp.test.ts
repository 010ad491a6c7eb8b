/**
 * Issue 11, SIP over TCP cannot be shut off: an attacker on 127.0.0.66 opens far more connections than the
 * global cap, or drips messages one byte at a time; a victim on 127.0.0.2 (sipp over TCP) must still get
 * OPTIONS answered and complete a call, and the drip connections must be closed by the header-read deadline.
 * Deadlines are asserted in the attacker's own units (bytes dripped at a fixed interval), with a stated
 * tolerance, never in wall-clock time.
 * Ports: sipp on 127.0.0.2, 47100–47119.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACKER_IP, closeAll, drip, openTcp, type TcpProbe } from '../support/attacker.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { describeSipp, runSipp } from '../support/sipp.js';

const VICTIM_IP = '127.0.0.2';
const VICTIM_SCENARIO = fileURLToPath(new URL('./sip-victim-call.xml', import.meta.url));
const ECHO_PLAN = 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo }\n';

function victimCall(srv: TestServer, localPort: number, durationMs: number) {
  return runSipp({
    scenario: VICTIM_SCENARIO,
    target: `127.0.0.1:${srv.sipPort}`,
    localIp: VICTIM_IP,
    localPort,
    transport: 'tcp',
    service: '100',
    durationMs,
    vars: { rtp_port: String(localPort + 1000) },
    timeoutMs: durationMs + 15_000,
  });
}

async function settle(probes: readonly TcpProbe[], closedAtLeast: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Bounded wait on close events (each probe's promise), not a sleep loop.
  while (probes.filter((p) => p.isClosed()).length < closedAtLeast && Date.now() < deadline) {
    await Promise.race([
      Promise.any(probes.filter((p) => !p.isClosed()).map((p) => p.closed)),
      new Promise((r) => setTimeout(r, 250)),
    ]);
  }
}

describe('SIP front door over TCP: a connection flood from one source', () => {
  let srv: TestServer;
  const PER_SOURCE = 8;
  const GLOBAL = 24;
  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: { 'demo.yaml': ECHO_PLAN },
      logLevel: 'info',
      env: { SIP_TCP_MAX_PER_SOURCE: String(PER_SOURCE), SIP_TCP_MAX_CONNECTIONS: String(GLOBAL) },
    });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('caps the attacker per source; the victim still gets OPTIONS and a call over TCP', async () => {
    const rssBefore = process.memoryUsage().rss;
    // More than the global cap: with only a global cap the attacker alone would fill it.
    const attempts = GLOBAL * 3;
    const probes = await openTcp({
      host: '127.0.0.1',
      port: srv.sipPort,
      localAddress: ATTACKER_IP,
      count: attempts,
    });
    try {
      await settle(probes, attempts - PER_SOURCE, 10_000);
      const open = probes.filter((p) => !p.isClosed()).length;
      expect(open).toBe(PER_SOURCE);

      const options = await runSipp({
        scenario: fileURLToPath(new URL('../sip/scenarios/options.xml', import.meta.url)),
        target: `127.0.0.1:${srv.sipPort}`,
        localIp: VICTIM_IP,
        localPort: 47100,
        transport: 'tcp',
        service: '100',
      });
      expect(options.exitCode, describeSipp(options)).toBe(0);
      const call = await victimCall(srv, 47102, 1000);
      expect(call.exitCode, describeSipp(call)).toBe(0);
      // The attacker's held connections were not disturbed by the victim either.
      expect(probes.filter((p) => !p.isClosed()).length).toBe(PER_SOURCE);
      console.info(
        `[sip-tcp] flood: ${attempts} connections attempted from ${ATTACKER_IP}, ${open} held, ` +
          `${attempts - open} refused; victim OPTIONS + call ok; RSS +${Math.round((process.memoryUsage().rss - rssBefore) / 1024)} KiB`,
      );
    } finally {
      closeAll(probes);
    }
  });
});

describe('SIP front door over TCP: slow drip and idle connections', () => {
  let srv: TestServer;
  const HEADER_TIMEOUT_MS = 1000;
  const IDLE_MS = 1500;
  const DRIP_INTERVAL_MS = 100;
  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: { 'demo.yaml': ECHO_PLAN },
      logLevel: 'info',
      env: { SIP_TCP_HEADER_TIMEOUT_MS: String(HEADER_TIMEOUT_MS), SIP_TCP_IDLE_MS: String(IDLE_MS) },
    });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('closes drip connections within the header deadline while a quiet victim call keeps its connection', async () => {
    const invite =
      `INVITE sip:100@127.0.0.1:${srv.sipPort} SIP/2.0\r\n` +
      `Via: SIP/2.0/TCP ${ATTACKER_IP}:5060;branch=z9hG4bKdrip\r\n` +
      'Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.66>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\n' +
      'Call-ID: drip@127.0.0.66\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.66>\r\nContent-Length: 0\r\n\r\n';
    const drippers = await openTcp({
      host: '127.0.0.1',
      port: srv.sipPort,
      localAddress: ATTACKER_IP,
      count: 6,
    });
    const keepAlive = await openTcp({
      host: '127.0.0.1',
      port: srv.sipPort,
      localAddress: ATTACKER_IP,
      count: 2,
    });
    try {
      // The victim's call is quiet (no SIP) for 3 s after the ACK: longer than the idle timeout.
      const victim = victimCall(srv, 47110, 3000);
      await Promise.all([
        drip(drippers, invite, DRIP_INTERVAL_MS),
        // Bare CRLFs are keep-alives (RFC 5626 §3.5.1), never a message: they must not keep a connection alive.
        drip(keepAlive, '\r\n'.repeat(200), DRIP_INTERVAL_MS),
      ]);
      const call = await victim;
      expect(call.exitCode, describeSipp(call)).toBe(0);

      // Header deadline 1000 ms at one byte per 100 ms: 10 bytes; tolerance 2× for the sweep interval and a
      // loaded machine. Without the deadline every connection drips the whole INVITE (>200 bytes).
      const dripBytes = drippers.map((p) => p.bytesWritten());
      expect(drippers.every((p) => p.isClosed())).toBe(true);
      expect(Math.max(...dripBytes)).toBeLessThanOrEqual(2 * (HEADER_TIMEOUT_MS / DRIP_INTERVAL_MS));
      expect(invite.length).toBeGreaterThan(200);
      // Idle timeout 1500 ms at one CR or LF per 100 ms: 15 bytes, same tolerance (the whole run is 400).
      const keepAliveBytes = keepAlive.map((p) => p.bytesWritten());
      expect(keepAlive.every((p) => p.isClosed())).toBe(true);
      expect(Math.max(...keepAliveBytes)).toBeLessThanOrEqual(2 * (IDLE_MS / DRIP_INTERVAL_MS));
      console.info(
        `[sip-tcp] drip: ${drippers.length}/${drippers.length} drip connections reaped after ≤ ${Math.max(...dripBytes)} bytes, ` +
          `${keepAlive.length}/${keepAlive.length} CRLF-only connections reaped after ≤ ${Math.max(...keepAliveBytes)} bytes; victim TCP call (3 s quiet) ok`,
      );
    } finally {
      closeAll([...drippers, ...keepAlive]);
    }
  });
});
