/**
 * Conformance: outbound calls of the production server (CallControl.dial, what `POST /v1/calls` runs) to a
 * sipp UAS on 127.0.0.3 — answered over UDP/TCP and then hung up, digest-authenticated with the tenant's
 * trunk credential, and refused (486). Ports: sipp 43400–43449, media 43450–43499.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SipError } from '../../../src/sip/signaling.js';
import { describeSipp, startSipp, type SippOptions } from '../../support/sipp.js';
import {
  endedCalls,
  expectEndedSince,
  expectNothingLeaked,
  logsWith,
  startConformanceServer,
  type ServerUnderTest,
} from './harness.js';

const PEER = '127.0.0.3';

describe('SIP conformance: outbound calls (production server, echo agent)', () => {
  let sut: ServerUnderTest;

  beforeAll(async () => {
    sut = await startConformanceServer();
  });
  afterAll(async () => {
    await sut?.close();
  });
  afterEach(async () => {
    await expectNothingLeaked(sut);
  });

  function uas(scenario: SippOptions['scenario'], localPort: number, transport: 'udp' | 'tcp' = 'udp') {
    return startSipp({
      scenario,
      localIp: PEER,
      localPort,
      mediaPort: localPort + 50,
      transport,
      timeoutMs: 15_000,
    });
  }
  async function settle(): Promise<void> {
    // Let sipp bind its socket before we send to it.
    await new Promise((r) => setTimeout(r, 400));
  }

  it.each(['udp', 'tcp'] as const)('dials a UAS over %s, runs the agent, and hangs up', async (transport) => {
    const localPort = transport === 'udp' ? 43400 : 43401;
    const before = endedCalls(sut).length;
    const peer = uas({ builtin: 'uas' }, localPort, transport);
    await settle();
    const uri = `sip:bot@${PEER}:${localPort}${transport === 'tcp' ? ';transport=tcp' : ''}`;
    const { id } = await sut.srv.server.calls.dial({ tenant: 'conformance', to: uri, trusted: true });
    expect(logsWith(sut, 'call started').at(-1)).toMatchObject({ direction: 'outbound', codec: 'PCMU' });
    expect(await sut.srv.server.calls.hangup(id)).toBe(true);
    const r = await peer.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    await expectEndedSince(sut, before, ['api-hangup']);
  });

  it('answers a 401 challenge with the trunk credential (digest)', async () => {
    await sut.srv.server.store.putCredential('conformance', 'sip-trunk', {
      uri: `sip:trunk@${PEER}:43402`,
      username: 'alice',
      password: 'secret',
    });
    const peer = uas('uas-auth.xml', 43402);
    await settle();
    try {
      const { id } = await sut.srv.server.calls.dial({ tenant: 'conformance', to: '5550100', trusted: true });
      await sut.srv.server.calls.hangup(id);
    } finally {
      await sut.srv.server.store.deleteCredential('conformance', 'sip-trunk');
    }
    const r = await peer.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(r.messages).toMatch(/^INVITE sip:5550100@127\.0\.0\.3:43402/m);
    expect(r.messages).toMatch(/^Authorization: Digest .*username="alice"/m);
  });

  it('fails with SipError(486) when the callee is busy, and starts nothing', async () => {
    const started = logsWith(sut, 'call started').length;
    const peer = uas('uas-busy.xml', 43403);
    await settle();
    const err: unknown = await sut.srv.server.calls
      .dial({ tenant: 'conformance', to: `sip:bot@${PEER}:43403`, trusted: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SipError);
    expect((err as SipError).status).toBe(486);
    const r = await peer.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(logsWith(sut, 'call started').length).toBe(started);
  });
});
