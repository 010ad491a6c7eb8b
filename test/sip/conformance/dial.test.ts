/**
 * Conformance: outbound calls (Signaling.dial) to a sipp UAS on 127.0.0.3 — answered, digest-authenticated,
 * refused, and abandoned with CANCEL. Ports: sipp 43400–43449, media 43450–43499.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOffer, parseAnswer } from '../../../src/sip/sdp.js';
import { SipError } from '../../../src/sip/signaling.js';
import { describeSipp, startSipp, type SippOptions } from '../../support/sipp.js';
import { selectBackend, type BackendUnderTest } from './harness.js';

const factory = await selectBackend();
if (!factory.available) console.warn(`[conformance] skipped: ${factory.reason}`);

const PEER = '127.0.0.3';

describe.skipIf(!factory.available)(`SIP conformance: outbound calls (${factory.name})`, () => {
  let sut: BackendUnderTest;
  let rtp: Socket;
  let offer: string;

  beforeAll(async () => {
    if (!factory.available) return;
    sut = await factory.create();
    rtp = createSocket('udp4');
    await new Promise<void>((r) => rtp.bind(0, sut.mediaHost, r));
    offer = createOffer({ address: sut.mediaHost, port: rtp.address().port }, { codecs: ['PCMU', 'PCMA'] });
  });
  afterAll(async () => {
    rtp?.close();
    await sut?.stop();
  });

  function uas(scenario: SippOptions['scenario'], localPort: number): ReturnType<typeof startSipp> {
    return startSipp({ scenario, localIp: PEER, localPort, mediaPort: localPort + 50, timeoutMs: 15_000 });
  }
  async function settle(): Promise<void> {
    // Let sipp bind its socket before we send to it.
    await new Promise((r) => setTimeout(r, 400));
  }

  it.each(['udp', 'tcp'] as const)(
    'dials a UAS over %s, reads its answer, and hangs up',
    async (transport) => {
      const localPort = transport === 'udp' ? 43400 : 43401;
      const peer = startSipp({
        scenario: { builtin: 'uas' },
        localIp: PEER,
        localPort,
        mediaPort: 43450,
        transport,
        timeoutMs: 15_000,
      });
      await settle();
      const uri = `sip:bot@${PEER}:${localPort}${transport === 'tcp' ? ';transport=tcp' : ''}`;
      const dialog = await sut.signaling.dial(uri, { sdpOffer: offer, headers: { 'X-Test': 'dial' } });
      expect(dialog.direction).toBe('outbound');
      expect(parseAnswer(offer, dialog.remoteSdp)).toMatchObject({
        ok: true,
        codec: { name: 'PCMU' },
        remote: { address: PEER, port: 43450 },
      });
      await dialog.hangup();
      expect(dialog.ended).toBe(true);
      const r = await peer.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(r.messages).toMatch(/^X-Test: dial/m);
    },
  );

  it('answers a 401 challenge with digest credentials', async () => {
    const peer = uas('uas-auth.xml', 43402);
    await settle();
    const dialed = await sut.signaling
      .dial(`sip:bot@${PEER}:43402`, {
        sdpOffer: offer,
        auth: { username: 'alice', password: 'secret' },
        timeoutMs: 8000,
      })
      .catch((e: unknown) => e);
    if (dialed instanceof Error) peer.kill();
    else await (dialed as Awaited<ReturnType<typeof sut.signaling.dial>>).hangup();
    const r = await peer.result;
    expect(dialed, describeSipp(r)).not.toBeInstanceOf(Error);
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(r.messages).toMatch(/^Authorization: Digest .*username="alice"/m);
  });

  it('rejects with SipError(486) when the callee is busy, after reporting 180', async () => {
    const peer = uas('uas-busy.xml', 43403);
    await settle();
    const provisional: number[] = [];
    const err: unknown = await sut.signaling
      .dial(`sip:bot@${PEER}:43403`, { sdpOffer: offer, onProvisional: (status) => provisional.push(status) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SipError);
    expect((err as SipError).status).toBe(486);
    expect(provisional).toContain(180);
    const r = await peer.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
  });

  it('sends CANCEL when the dial is aborted while ringing', async () => {
    const peer = uas('uas-cancel.xml', 43404);
    await settle();
    const controller = new AbortController();
    const dialing = sut.signaling.dial(`sip:bot@${PEER}:43404`, {
      sdpOffer: offer,
      signal: controller.signal,
      onProvisional: (status) => {
        if (status === 180) setTimeout(() => controller.abort(), 100);
      },
    });
    const err: unknown = await dialing.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SipError);
    const r = await peer.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
  });
});
