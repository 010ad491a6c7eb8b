/**
 * Conformance: when the 200 OK is sent and what a CANCEL before it does (RFC 3261 §9.2). The server rings
 * at once and answers when the agent is ready: behind a proxy that holds the provider connection 2.5 s (a
 * slow OpenAI session, the protocol-faithful mock behind it), a CANCEL while ringing, or sent right behind
 * the INVITE, must get 487; the RTP port goes back to the pool and the provider connection is closed. The
 * echo agent (ready at once) shows the same for a CANCEL that overtakes the answer.
 * Ports: sipp 43600–43619 on 127.0.0.2.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DelayProxy } from '../../support/delay-proxy.js';
import { startOpenAIMock, type OpenAIMockServer } from '../../support/openai-mock.js';
import { describeSipp, runSipp, startSipp } from '../../support/sipp.js';
import {
  ECHO_DIALPLAN,
  endedCalls,
  eventually,
  expectEndedSince,
  expectNothingLeaked,
  logsWith,
  startConformanceServer,
  until,
  type ServerUnderTest,
} from './harness.js';

const PEER = '127.0.0.2';
const SCENARIOS = new URL('./scenarios/', import.meta.url).pathname;
const TRIES = 5;

const SLOW_DIALPLAN = 'tenant: slow\nnumbers: ["slow"]\nagent: { provider: openai }\n';

describe('SIP conformance: CANCEL before the answer (production server)', () => {
  let sut: ServerUnderTest;
  let mock: OpenAIMockServer;
  let proxy: DelayProxy;

  beforeAll(async () => {
    mock = await startOpenAIMock({ mode: 'ga' });
    proxy = await DelayProxy.start(Number(new URL(mock.url).port), 2500);
    const url = new URL(mock.url);
    url.port = String(proxy.port);
    sut = await startConformanceServer({
      dialplans: { 'conformance.yaml': ECHO_DIALPLAN, 'slow.yaml': SLOW_DIALPLAN },
      credentials: [
        { tenant: 'slow', provider: 'openai', fields: { apiKey: 'sk-test', url: url.toString() } },
      ],
    });
  });
  afterAll(async () => {
    await sut?.close();
    await proxy?.close();
    await mock?.close();
  });
  afterEach(async () => {
    await expectNothingLeaked(sut);
    // Every provider connection the server opened for a cancelled call was closed again.
    await eventually(() => expect(proxy.open, 'provider connections left open').toBe(0));
  });

  it.each(['udp', 'tcp'] as const)(
    'CANCEL while ringing (agent still connecting) over %s: 180 at once, 200 for the CANCEL, 487',
    async (transport) => {
      const opened = proxy.opened;
      const r = await runSipp({
        scenario: `${SCENARIOS}cancel-ringing.xml`,
        target: sut.target,
        localIp: PEER,
        service: 'slow',
        transport,
        localPort: transport === 'udp' ? 43600 : 43601,
        mediaPort: 43610,
      });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(r.messages).not.toMatch(/SIP\/2\.0 200 OK[^\n]*\n(?:[^\n]+\n)*?CSeq: 1 INVITE/);
      // The agent had been started while ringing, and was closed when the CANCEL came.
      expect(proxy.opened).toBe(opened + 1);
    },
  );

  it('answers after the bounded wait when the agent is slower than that, and the call then works', async () => {
    // 4.5 s to connect: more than the 3 s the 200 OK waits.
    proxy.delayMs = 4500;
    try {
      const before = endedCalls(sut).length;
      const connected = proxy.connected;
      const peer = startSipp({
        scenario: { builtin: 'uac' },
        target: sut.target,
        localIp: PEER,
        service: 'slow',
        localPort: 43604,
        mediaPort: 43616,
        durationMs: 4000,
      });
      await until(() => sut.srv.server.calls.liveCalls().length > 0, 10_000, 'the answered call');
      // The call was answered while the provider connection was still being held back.
      expect(proxy.connected).toBe(connected);
      const r = await peer.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);
      await expectEndedSince(sut, before, ['caller-bye']);
      expect(proxy.connected).toBe(connected + 1);
    } finally {
      proxy.delayMs = 2500;
    }
  });

  /** One sipp run per try: sipp sends the INVITE and its CANCEL in one turn, before reading any answer. */
  async function cancelRightBehind(service: string, localPort: number): Promise<number> {
    let cancelled = 0;
    for (let i = 0; i < TRIES; i++) {
      const r = await runSipp({
        scenario: `${SCENARIOS}cancel-now.xml`,
        target: sut.target,
        localIp: PEER,
        service,
        localPort,
        mediaPort: localPort + 10,
      });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      if (/^SIP\/2\.0 487 /m.test(r.messages)) cancelled++;
    }
    return cancelled;
  }

  it(`INVITE immediately followed by CANCEL, slow agent: 487 in ${TRIES} of ${TRIES}`, async () => {
    expect(await cancelRightBehind('slow', 43602)).toBe(TRIES);
    // Whether a try got as far as connecting its agent depends on when the CANCEL was read; afterEach
    // checks that no provider connection and no port is left either way.
  });

  it(`INVITE immediately followed by CANCEL, echo agent (ready at once): 487 in ${TRIES} of ${TRIES}`, async () => {
    const started = logsWith(sut, 'call started').length;
    expect(await cancelRightBehind('agent', 43603)).toBe(TRIES);
    expect(logsWith(sut, 'call started').length).toBe(started);
  });
});
