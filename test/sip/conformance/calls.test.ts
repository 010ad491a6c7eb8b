/**
 * Conformance: call setup and teardown of the production server (echo agent) against real sipp peers.
 * Ports: sipp signalling 43100–43149, sipp media 43150–43199 on 127.0.0.2.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeSipp, runSipp, startSipp, type SippOptions, type SippResult } from '../../support/sipp.js';
import {
  endedCalls,
  expectEndedSince,
  eventually,
  expectNothingLeaked,
  liveCall,
  logsWith,
  startConformanceServer,
  type ServerUnderTest,
} from './harness.js';

const PEER = '127.0.0.2';

describe('SIP conformance: calls (production server, echo agent)', () => {
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

  function sipp(options: Omit<SippOptions, 'target' | 'localIp'>): Promise<SippResult> {
    return runSipp({ target: sut.target, localIp: PEER, service: 'agent', ...options });
  }
  const started = (): Array<Record<string, unknown>> => logsWith(sut, 'call started');

  it.each(['udp', 'tcp'] as const)(
    'basic call with the built-in uac over %s (INVITE/100/180/200/ACK/BYE)',
    async (transport) => {
      const before = endedCalls(sut).length;
      const r = await sipp({
        scenario: { builtin: 'uac' },
        transport,
        localPort: transport === 'udp' ? 43100 : 43101,
        mediaPort: 43150,
        durationMs: 1000,
      });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      await expectEndedSince(sut, before, ['caller-bye']);
      expect(started().at(-1)).toMatchObject({ codec: 'PCMU', provider: 'echo', direction: 'inbound' });
      // The 180 goes out before the 200 (the agent starts while it rings).
      expect(r.messages.indexOf('SIP/2.0 180 Ringing')).toBeGreaterThan(-1);
      expect(r.messages.indexOf('SIP/2.0 180 Ringing')).toBeLessThan(r.messages.indexOf('SIP/2.0 200 OK'));
    },
  );

  it('carries RTP from a PCMA pcap to the agent', async () => {
    const before = endedCalls(sut).length;
    const r = await sipp({ scenario: 'uac-pcap-rtp.xml', localPort: 43102, mediaPort: 43152 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    await eventually(() => expect(endedCalls(sut).length).toBe(before + 1));
    expect(started().at(-1)).toMatchObject({ codec: 'PCMA' });
    // ~2 s of 20 ms packets before the BYE.
    expect(endedCalls(sut).at(-1)!.rtp.packetsReceived).toBeGreaterThan(50);
  });

  it.each(['udp', 'tcp'] as const)('server hangs up with BYE after a late ACK over %s', async (transport) => {
    const before = endedCalls(sut).length;
    const peer = startSipp({
      scenario: 'uac-wait-bye.xml',
      target: sut.target,
      localIp: PEER,
      service: 'agent',
      transport,
      localPort: transport === 'udp' ? 43103 : 43104,
      mediaPort: 43154,
    });
    // The call exists once the (late) ACK has arrived; the control API hangs it up.
    const call = await liveCall(sut);
    await sut.srv.server.calls.hangup(call.id);
    const r = await peer.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    await expectEndedSince(sut, before, ['api-hangup']);
    if (transport === 'udp') {
      // RFC 3261 §13.3.1.4: the 200 was retransmitted while the ACK was late.
      expect(r.messages.match(/SIP\/2\.0 200 OK[\s\S]*?CSeq: 1 INVITE/g)?.length ?? 0).toBeGreaterThanOrEqual(
        2,
      );
    }
  });

  it.each(['udp', 'tcp'] as const)('answers OPTIONS with 200 over %s', async (transport) => {
    const r = await sipp({
      scenario: 'options.xml',
      transport,
      localPort: transport === 'udp' ? 43107 : 43108,
    });
    expect(r.exitCode, describeSipp(r)).toBe(0);
  });

  it('INVITE without SDP: offer in the 200, answer in the ACK', async () => {
    const before = endedCalls(sut).length;
    const r = await sipp({ scenario: 'uac-delayed-offer.xml', localPort: 43110, mediaPort: 43160 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    await expectEndedSince(sut, before, ['caller-bye']);
    expect(started().at(-1)).toMatchObject({ codec: 'PCMU' });
  });

  it('rejects an offer with only G.729 with 488 and a Warning, and starts nothing', async () => {
    const calls = started().length;
    const r = await sipp({ scenario: 'uac-unsupported-codec.xml', localPort: 43111, mediaPort: 43162 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(r.messages).toMatch(/^Warning: 304 /m);
    expect(started().length).toBe(calls);
  });
});
