/**
 * Conformance: reliable provisional responses (RFC 3262) on the production server (echo agent), the server as
 * UAS. `Require: 100rel`: the 180 carries RSeq and `Require: 100rel`, sipp PRACKs it, the 200 comes only
 * after the PRACK's 200 and the call carries audio both ways (tone bursts from test/support/tone-caller.ts,
 * echoed by the agent). A caller that never PRACKs sees the 180 retransmitted (T1 doubling) and, after 64*T1,
 * a 504; nothing is left behind. `Supported: 100rel` alone stays an ordinary call with an unreliable 180.
 * sipp scenarios in scenarios/, sipp on 127.0.0.140, ports 54000–54019 (RTP 54050–54069).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeSipp, runSipp, startSipp } from '../../support/sipp.js';
import { ToneCaller } from '../../support/tone-caller.js';
import {
  endedCalls,
  expectEndedSince,
  expectNothingLeaked,
  liveCall,
  logsWith,
  startConformanceServer,
  type ServerUnderTest,
} from './harness.js';

const PEER = '127.0.0.140';
const SCENARIOS = new URL('./scenarios/', import.meta.url).pathname;

/** The responses sipp received, as status lines with their header blocks. */
function responses(messages: string, status: number): string[] {
  return [
    ...messages.matchAll(new RegExp(`SIP/2\\.0 ${status} [^\\r\\n]*\\r?\\n(?:[^\\r\\n]+\\r?\\n)*`, 'g')),
  ].map((m) => m[0]);
}

function header(message: string, name: string): string | undefined {
  return new RegExp(`^${name}: *([^\\r\\n]*)`, 'im').exec(message)?.[1]?.trim();
}

describe('SIP conformance: 100rel / PRACK as UAS (production server, echo agent)', () => {
  let sut: ServerUnderTest;
  let caller: ToneCaller | undefined;

  beforeAll(async () => {
    sut = await startConformanceServer();
  });
  afterAll(async () => {
    await sut?.close();
  });
  afterEach(async () => {
    await caller?.close();
    caller = undefined;
    await expectNothingLeaked(sut);
  });

  it.each([
    { transport: 'udp', localPort: 54000 },
    { transport: 'tcp', localPort: 54001 },
  ] as const)(
    'Require: 100rel over $transport: reliable 180 with RSeq, PRACK → 200, then the 200 OK, audio echoed',
    { timeout: 45_000 },
    async ({ transport, localPort }) => {
      const before = endedCalls(sut).length;
      const tone = (caller = await ToneCaller.open(PEER, 1));
      const peer = startSipp({
        scenario: `${SCENARIOS}prack-uac-audio.xml`,
        target: sut.target,
        localIp: PEER,
        localPort,
        transport,
        service: 'agent',
        vars: { rtp: String(tone.ports[0]), talk: '6000' },
        timeoutMs: 30_000,
      });
      const call = await liveCall(sut, 15_000);
      const address = /^c=IN IP4 (\S+)/m.exec(call.dialog.localSdp)?.[1] ?? '';
      const port = Number(/^m=audio (\d+) /m.exec(call.dialog.localSdp)?.[1]);
      let heard = 0;
      call.media.on('frame', () => heard++);
      tone.start({ address, port });
      // 1 s of 1000 Hz: the echo agent plays the turn back after its silence window.
      tone.burst(1000, 1000);
      const r = await peer.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);

      const ringing = responses(r.messages, 180);
      expect(ringing.length, describeSipp(r)).toBeGreaterThanOrEqual(1);
      expect(header(ringing[0]!, 'Require')).toMatch(/100rel/);
      const rseq = Number(header(ringing[0]!, 'RSeq'));
      expect(rseq).toBeGreaterThanOrEqual(1);
      expect(rseq).toBeLessThan(2 ** 31);
      // The PRACK named that RSeq and the INVITE's CSeq (RFC 3262 §7.2) and got its 200 before the INVITE's.
      expect(r.messages).toMatch(new RegExp(`^RAck: ${rseq} 1 INVITE`, 'm'));
      const oks = responses(r.messages, 200).map((m) => header(m, 'CSeq'));
      expect(oks.indexOf('2 PRACK'), describeSipp(r)).toBeGreaterThan(-1);
      expect(oks.indexOf('1 INVITE')).toBeGreaterThan(oks.indexOf('2 PRACK'));
      const ok = responses(r.messages, 200).find((m) => /CSeq: 1 INVITE/.test(m)) ?? '';
      expect(header(ok, 'Supported')).toMatch(/\b100rel\b/);
      expect(header(ok, 'Allow')).toMatch(/\bPRACK\b/);

      await expectEndedSince(sut, before, ['caller-bye']);
      const echoed = tone.count(1000);
      console.log('[measure] 100rel UAS', { transport, rseq, heard, echoed, ringing: ringing.length });
      // 1 s = 50 frames of 20 ms sent; the agent heard most of them and sent them back (±5 frames: the
      // burst's edges can fall to jitter on a loaded machine).
      expect(echoed).toBeGreaterThan(40);
      expect(echoed).toBeLessThanOrEqual(55);
    },
  );

  it(
    'a caller that never PRACKs: the reliable 180 is retransmitted with doubling intervals, then 504, no call',
    { timeout: 60_000 },
    async () => {
      const started = logsWith(sut, 'call started').length;
      const r = await runSipp({
        scenario: `${SCENARIOS}prack-uac-no-prack.xml`,
        target: sut.target,
        localIp: PEER,
        localPort: 54002,
        mediaPort: 54052,
        service: 'agent',
        timeoutMs: 50_000,
      });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const ringing = responses(r.messages, 180);
      // T1 = 500 ms: sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s, then the 504 at 32 s (64*T1).
      const rseqs = new Set(ringing.map((m) => header(m, 'RSeq')));
      console.log('[measure] 100rel no PRACK', { copies: ringing.length });
      expect(ringing.length, describeSipp(r)).toBeGreaterThanOrEqual(6);
      expect(ringing.length).toBeLessThanOrEqual(7);
      expect(rseqs.size).toBe(1);
      expect(responses(r.messages, 504).length).toBeGreaterThanOrEqual(1);
      expect(r.messages).not.toMatch(/SIP\/2\.0 200 /);
      expect(logsWith(sut, 'call started').length).toBe(started);
    },
  );

  it('Supported: 100rel alone is a normal call with an unreliable 180 (no RSeq, no PRACK)', async () => {
    const before = endedCalls(sut).length;
    const r = await runSipp({
      scenario: `${SCENARIOS}supported-100rel.xml`,
      target: sut.target,
      localIp: PEER,
      localPort: 54003,
      mediaPort: 54054,
      service: 'agent',
    });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const ringing = responses(r.messages, 180);
    expect(ringing.length, describeSipp(r)).toBeGreaterThanOrEqual(1);
    for (const response of ringing) {
      expect(response).not.toMatch(/^RSeq:/im);
      expect(response).not.toMatch(/^Require:.*100rel/im);
    }
    expect(responses(r.messages, 200).length).toBeGreaterThanOrEqual(1);
    expect(r.messages).not.toMatch(/^PRACK /m);
    await expectEndedSince(sut, before, ['caller-bye']);
    expect(logsWith(sut, 'call started').at(-1)).toMatchObject({ codec: 'PCMU', direction: 'inbound' });
  });
});
