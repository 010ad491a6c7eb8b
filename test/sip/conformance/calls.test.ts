/**
 * Conformance: call setup and teardown against real sipp peers. Runs against the backend chosen in harness.ts.
 * Ports: sipp signalling 43100–43149, sipp media 43150–43199 on 127.0.0.2.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeSipp, runSipp, type SippOptions } from '../../support/sipp.js';
import { EchoApp, type EchoAppOptions } from './echo-app.js';
import { eventually, selectBackend, type BackendUnderTest } from './harness.js';

const factory = await selectBackend();
if (!factory.available) console.warn(`[conformance] skipped: ${factory.reason}`);

const PEER = '127.0.0.2';

describe.skipIf(!factory.available)(`SIP conformance: calls (${factory.name})`, () => {
  let sut: BackendUnderTest;
  let app: EchoApp | undefined;

  beforeAll(async () => {
    if (!factory.available) return;
    sut = await factory.create();
  });
  afterAll(async () => {
    await sut?.stop();
  });
  afterEach(() => {
    app?.close();
    app = undefined;
  });

  function withApp(options: Partial<EchoAppOptions> = {}): EchoApp {
    // One app per test: re-register the invite handler (onInvite replaces the previous one).
    app = new EchoApp(sut.signaling, { mediaHost: sut.mediaHost, ...options });
    return app;
  }

  function sipp(
    options: Omit<SippOptions, 'target' | 'localIp'>,
  ): Promise<ReturnType<typeof runSipp> extends Promise<infer R> ? R : never> {
    return runSipp({ target: `${sut.sipHost}:${sut.sipPort}`, localIp: PEER, service: 'agent', ...options });
  }

  it.each(['udp', 'tcp'] as const)(
    'basic call with the built-in uac over %s (INVITE/100/200/ACK/BYE)',
    async (transport) => {
      const echo = withApp();
      const r = await sipp({
        scenario: { builtin: 'uac' },
        transport,
        localPort: transport === 'udp' ? 43100 : 43101,
        mediaPort: 43150,
        durationMs: 1000,
      });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const call = echo.calls[0]!;
      await eventually(() => expect(call.endReason).toBe('remote-bye'));
      expect(call).toMatchObject({ outcome: 'answered', toUser: 'agent', transport });
      expect(call.media?.codec.name).toBe('PCMU');
    },
  );

  it('carries RTP both ways: PCMA from a pcap is received and echoed', async () => {
    const echo = withApp();
    const r = await sipp({ scenario: 'uac-pcap-rtp.xml', localPort: 43102, mediaPort: 43152 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const call = echo.calls[0]!;
    await eventually(() => expect(call.endReason).toBe('remote-bye'));
    expect(call.media?.codec).toMatchObject({ name: 'PCMA', payloadType: 8 });
    expect(call.rtpReceived).toBeGreaterThan(50);
    expect(call.rtpEchoed).toBe(call.rtpReceived);
    expect([...call.rtpPayloadTypes]).toEqual([8]);
  });

  it.each(['udp', 'tcp'] as const)('server hangs up with BYE after a late ACK over %s', async (transport) => {
    const echo = withApp({ hangupAfterMs: 500 });
    const r = await sipp({
      scenario: 'uac-wait-bye.xml',
      transport,
      localPort: transport === 'udp' ? 43103 : 43104,
      mediaPort: 43154,
    });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const call = echo.calls[0]!;
    await eventually(() => expect(call.endReason).toBe('local-bye'));
    if (transport === 'udp') {
      // RFC 3261 §13.3.1.4: the 200 was retransmitted while the ACK was late.
      expect(r.messages.match(/SIP\/2\.0 200 OK[\s\S]*?CSeq: 1 INVITE/g)?.length ?? 0).toBeGreaterThanOrEqual(
        2,
      );
    }
  });

  it.each(['udp', 'tcp'] as const)(
    'CANCEL before answer over %s: 200 for the CANCEL, 487 for the INVITE',
    async (transport) => {
      const echo = withApp({ ring: false, answerDelayMs: 2000 });
      const r = await sipp({
        scenario: 'uac-cancel.xml',
        transport,
        localPort: transport === 'udp' ? 43105 : 43106,
        mediaPort: 43156,
      });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const call = echo.calls[0]!;
      await eventually(() => expect(call.outcome).toBe('cancelled'));
      // Give the delayed answer a chance to (wrongly) go out, then make sure it did not.
      await new Promise((res) => setTimeout(res, 2200));
      expect(call.dialog).toBeUndefined();
    },
  );

  it.each(['udp', 'tcp'] as const)('answers OPTIONS with 200 over %s', async (transport) => {
    withApp();
    const r = await sipp({
      scenario: 'options.xml',
      transport,
      localPort: transport === 'udp' ? 43107 : 43108,
    });
    expect(r.exitCode, describeSipp(r)).toBe(0);
  });

  it('hold and resume by re-INVITE (sendonly → recvonly, then sendrecv) with growing o= versions', async () => {
    const echo = withApp();
    const r = await sipp({ scenario: 'uac-hold.xml', localPort: 43109, mediaPort: 43158 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const call = echo.calls[0]!;
    await eventually(() => expect(call.endReason).toBe('remote-bye'));
    // RFC 3264 §8: each new answer carries the same o= session id with a higher version.
    const origins = [...r.messages.matchAll(/^o=switchboard (\d+) (\d+) /gm)].map((m) => [
      m[1],
      Number(m[2]),
    ]);
    expect(new Set(origins.map(([id]) => id)).size).toBe(1);
    // UDP retransmissions of a 200 repeat an o= line; count each version once.
    expect([...new Set(origins.map(([, v]) => v))]).toEqual([1, 2, 3]);
    expect(call.modifies).toEqual([
      { hold: true, direction: 'recvonly' },
      { hold: false, direction: 'sendrecv' },
    ]);
  });

  it('INVITE without SDP: offer in the 200, answer in the ACK', async () => {
    const echo = withApp();
    const r = await sipp({ scenario: 'uac-delayed-offer.xml', localPort: 43110, mediaPort: 43160 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const call = echo.calls[0]!;
    await eventually(() => expect(call.endReason).toBe('remote-bye'));
    expect(call.media).toMatchObject({
      ok: true,
      codec: { name: 'PCMU' },
      remote: { address: PEER, port: 43160 },
    });
  });

  it('rejects an offer with only G.729 with 488 and a Warning', async () => {
    const echo = withApp();
    const r = await sipp({ scenario: 'uac-unsupported-codec.xml', localPort: 43111, mediaPort: 43162 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(echo.calls[0]).toMatchObject({ outcome: 'rejected', rejectStatus: 488 });
  });
});
