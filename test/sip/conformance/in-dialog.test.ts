/**
 * Conformance: in-dialog features — RFC 4733 and SIP INFO DTMF arriving as digits, and a blind transfer out
 * (REFER answered 202, final NOTIFY sipfrag). Ports: sipp signalling 43200–43249, media 43250–43299 on 127.0.0.2.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeSipp, runSipp, type SippOptions, type SippResult } from '../../support/sipp.js';
import { EchoApp, type EchoAppOptions } from './echo-app.js';
import { eventually, selectBackend, type BackendUnderTest } from './harness.js';

const factory = await selectBackend();
if (!factory.available) console.warn(`[conformance] skipped: ${factory.reason}`);

const PEER = '127.0.0.2';

describe.skipIf(!factory.available)(`SIP conformance: in-dialog (${factory.name})`, () => {
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
    app = new EchoApp(sut.signaling, { mediaHost: sut.mediaHost, ...options });
    return app;
  }

  async function sipp(options: Omit<SippOptions, 'target' | 'localIp'>): Promise<SippResult> {
    return await runSipp({
      target: `${sut.sipHost}:${sut.sipPort}`,
      localIp: PEER,
      service: 'agent',
      ...options,
    });
  }

  it('RFC 4733 telephone-events 1, 2, # from pcaps arrive as digits, each once', async () => {
    const echo = withApp();
    const r = await sipp({ scenario: 'uac-dtmf-2833.xml', localPort: 43200, mediaPort: 43250 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const call = echo.calls[0]!;
    await eventually(() => expect(call.endReason).toBe('remote-bye'));
    expect(call.media?.telephoneEvent).toEqual({ payloadType: 101, clockRateHz: 8000 });
    expect(call.digits.join('')).toBe('12#');
  });

  it('SIP INFO DTMF (application/dtmf-relay and application/dtmf) arrives as digits and is answered 200', async () => {
    const echo = withApp();
    const r = await sipp({ scenario: 'uac-info-dtmf.xml', localPort: 43201, mediaPort: 43252 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const call = echo.calls[0]!;
    await eventually(() => expect(call.endReason).toBe('remote-bye'));
    expect(call.digits.join('')).toBe('5#7');
  });

  it.each(['udp', 'tcp'] as const)(
    'REFERs the caller and resolves on the NOTIFY sipfrag over %s',
    async (transport) => {
      const echo = withApp({
        referAfterMs: 300,
        referTarget: 'sip:transfer@example.com',
        referredBy: 'sip:agent@switchboard.example',
      });
      const r = await sipp({
        scenario: 'uac-refer-notify.xml',
        transport,
        localPort: transport === 'udp' ? 43202 : 43203,
        mediaPort: 43254,
      });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const call = echo.calls[0]!;
      await eventually(() => expect(call.endReason).toBe('local-bye'));
      expect(call.referError).toBeUndefined();
      expect(call.referResult).toEqual({ status: 200, reason: 'OK' });
      expect(r.messages).toMatch(/^Refer-To: <?sip:transfer@example\.com>?/m);
      expect(r.messages).toMatch(/^Referred-By: <?sip:agent@switchboard\.example>?/m);
    },
  );

  it('reports a declined REFER and keeps the call up', async () => {
    const echo = withApp({ referAfterMs: 300 });
    const r = await sipp({ scenario: 'uac-refer-reject.xml', localPort: 43204, mediaPort: 43256 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const call = echo.calls[0]!;
    await eventually(() => expect(call.endReason).toBe('remote-bye'));
    expect(call.referResult).toEqual({ status: 603, reason: 'Decline' });
  });
});
