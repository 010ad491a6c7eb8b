/**
 * Issue 11, concurrent-call caps: never-ACKed INVITEs from an attacker on 127.0.0.66 count toward the tenant's
 * `limits.max_concurrent_calls` (486 + Retry-After) and the process's SIP_MAX_CALLS (503 + Retry-After), so they
 * cannot hold more than the caps allow; another tenant is unaffected by the first one's cap; and once Timer H
 * (64·T1, RFC 3261 §17.2.1) ends the attacker's INVITEs, their ports and places are free again for the victim
 * on 127.0.0.2.
 * Ports: sipp on 127.0.0.2, 47300–47319.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACKER_IP, UdpAttacker, rawInvite, type ResponseSummary } from '../support/attacker.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { describeSipp, runSipp, type SippResult } from '../support/sipp.js';

const VICTIM_IP = '127.0.0.2';
const VICTIM_SCENARIO = fileURLToPath(new URL('./sip-victim-call.xml', import.meta.url));
const MAX_CALLS = 3;

function victimCall(srv: TestServer, localPort: number, user: string): Promise<SippResult> {
  return runSipp({
    scenario: VICTIM_SCENARIO,
    target: `127.0.0.1:${srv.sipPort}`,
    localIp: VICTIM_IP,
    localPort,
    service: user,
    durationMs: 500,
    vars: { rtp_port: String(localPort + 1000) },
  });
}

/** One INVITE from `peer`, never ACKed; resolves with its final response. */
async function inviteOnce(srv: TestServer, peer: UdpAttacker, user: string): Promise<ResponseSummary> {
  const server = { host: '127.0.0.1', port: srv.sipPort };
  const invite = rawInvite({ user, server, local: { host: peer.host, port: peer.port } });
  peer.send(invite.text, server);
  await peer.until(() => peer.final(invite.callId) !== undefined, 10_000);
  const final = peer.final(invite.callId);
  if (final === undefined) throw new Error(`no final response to the INVITE for ${user}`);
  return final;
}

describe('SIP front door: global and per-tenant call caps', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: {
        'small.yaml':
          'tenant: small\nnumbers: ["100"]\nlimits: { max_concurrent_calls: 1 }\nagent: { provider: echo }\n',
        'big.yaml': 'tenant: big\nnumbers: ["200"]\nagent: { provider: echo }\n',
      },
      logLevel: 'warn',
      env: { SIP_MAX_CALLS: String(MAX_CALLS), SIP_INVITE_RATE: '100', SIP_INVITE_BURST: '100' },
    });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it(
    'answers 486/503 + Retry-After at the caps, spares the other tenant, and frees places after Timer H',
    {
      timeout: 120_000,
    },
    async () => {
      const attacker = await UdpAttacker.bind(ATTACKER_IP);
      const rawVictim = await UdpAttacker.bind(VICTIM_IP);
      try {
        // Tenant "small" may hold one call: the attacker's never-ACKed INVITE takes it.
        expect((await inviteOnce(srv, attacker, '100')).status).toBe(200);
        const busy = await inviteOnce(srv, attacker, '100');
        expect(busy.status).toBe(486);
        expect(Number(busy.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        // Tenant "big" is not affected by small's cap.
        const other = await victimCall(srv, 47300, '200');
        expect(other.exitCode, describeSipp(other)).toBe(0);

        // Two more never-ACKed INVITEs fill SIP_MAX_CALLS = 3 (pending INVITEs count).
        expect((await inviteOnce(srv, attacker, '200')).status).toBe(200);
        expect((await inviteOnce(srv, attacker, '200')).status).toBe(200);
        const full = await inviteOnce(srv, rawVictim, '200');
        expect(full.status).toBe(503);
        expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        const held = srv.server.rtpPorts.inUse;
        expect(held).toBeLessThanOrEqual(MAX_CALLS);

        // Timer H ends each unACKed INVITE (64·T1 = 32 s): its port and its place are released.
        for (let i = 0; i < 240 && srv.server.rtpPorts.inUse > 0; i++)
          await new Promise((r) => setTimeout(r, 250));
        expect(srv.server.rtpPorts.inUse).toBe(0);
        const again = await victimCall(srv, 47302, '100');
        expect(again.exitCode, describeSipp(again)).toBe(0);
        console.info(
          `[sip-caps] tenant cap 1: 2nd INVITE ${busy.firstLine} (Retry-After ${busy.headers.get('retry-after')}); ` +
            `SIP_MAX_CALLS ${MAX_CALLS}: victim ${full.firstLine} (Retry-After ${full.headers.get('retry-after')}); ` +
            `ports held by never-ACKed INVITEs ${held} → 0 after Timer H; victim answered again`,
        );
      } finally {
        attacker.close();
        rawVictim.close();
      }
    },
  );
});
