/**
 * Conformance: in-dialog features of the production server — RFC 4733 and SIP INFO DTMF reaching the call,
 * blind transfer by REFER (202, NOTIFY sipfrag), a declined REFER falling back to a bridge that fails
 * (the caller stays with the agent), and DTMF relayed across a bridge transfer.
 * Ports: sipp signalling 43200–43249 (UAC on 127.0.0.2), UAS targets 43290–43299 on 127.0.0.3.
 */
import { createSocket } from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LiveCall } from '../../../src/call/call-manager.js';
import { describeSipp, startSipp, type SippOptions, type SippResult } from '../../support/sipp.js';
import {
  endedCalls,
  expectEndedSince,
  expectNothingLeaked,
  startConformanceServer,
  until,
  type ServerUnderTest,
} from './harness.js';

const PEER = '127.0.0.2';
const TARGET_HOST = '127.0.0.3';
const SCENARIOS = new URL('./scenarios/', import.meta.url).pathname;

// No end_call tool: the echo agent's "#" (end_call) is then refused and the call goes on.
const DIALPLAN = [
  'tenant: conformance',
  'numbers: ["*"]',
  'agent:',
  '  provider: echo',
  '  tools:',
  '    transfer_call:',
  '      method: refer',
  '      targets:',
  '        desk: "sip:transfer@example.com"',
  `        busy: "sip:busy@${TARGET_HOST}:43291"`,
].join('\n');

// Calls to "bridge" transfer by bridging (a second leg from the server), not by REFER.
const BRIDGE_DIALPLAN = [
  'tenant: bridging',
  'numbers: ["bridge"]',
  'agent:',
  '  provider: echo',
  '  tools:',
  '    transfer_call:',
  '      method: bridge',
  '      targets:',
  `        bridged: "sip:target@${TARGET_HOST}:43292"`,
].join('\n');

describe('SIP conformance: in-dialog (production server, echo agent)', () => {
  let sut: ServerUnderTest;

  beforeAll(async () => {
    sut = await startConformanceServer({
      dialplans: { 'conformance.yaml': DIALPLAN, 'bridging.yaml': BRIDGE_DIALPLAN },
    });
  });
  afterAll(async () => {
    await sut?.close();
  });
  afterEach(async () => {
    await expectNothingLeaked(sut);
  });

  function caller(options: Omit<SippOptions, 'target' | 'localIp'>): { result: Promise<SippResult> } {
    return startSipp({ target: sut.target, localIp: PEER, service: 'agent', ...options });
  }
  async function live(): Promise<LiveCall> {
    await until(() => sut.srv.server.calls.liveCalls().length > 0, 10_000, 'the call');
    return sut.srv.server.calls.liveCalls()[0]!;
  }
  function digitsOf(call: LiveCall): string[] {
    const digits: string[] = [];
    call.session.on('dtmf', ({ digit, via }) => digits.push(`${digit}/${via}`));
    return digits;
  }

  it('RFC 4733 telephone-events 1, 2, # from pcaps arrive as digits, each once', async () => {
    const peer = caller({ scenario: 'uac-dtmf-2833.xml', localPort: 43200, mediaPort: 43250 });
    const digits = digitsOf(await live());
    const r = await peer.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(digits).toEqual(['1/rtp', '2/rtp', '#/rtp']);
  });

  it('SIP INFO DTMF through the parser: dtmf-relay and dtmf bodies, event codes 10/11, others ignored', async () => {
    const peer = caller({ scenario: `${SCENARIOS}info-dtmf.xml`, localPort: 43201, mediaPort: 43252 });
    const digits = digitsOf(await live());
    const r = await peer.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    // Signal=5, "#", (text/plain ignored), Signal=10 → *, (Signal=X ignored), "7", Signal=11 → #.
    expect(digits).toEqual(['5/info', '#/info', '*/info', '7/info', '#/info']);
  });

  it.each(['udp', 'tcp'] as const)(
    'REFERs the caller (control API transfer) and ends the call on the NOTIFY sipfrag 200 over %s',
    async (transport) => {
      const before = endedCalls(sut).length;
      const peer = caller({
        scenario: 'uac-refer-notify.xml',
        transport,
        localPort: transport === 'udp' ? 43202 : 43203,
        mediaPort: 43254,
      });
      const call = await live();
      const outcome = await sut.srv.server.calls.transfer(call.id, 'desk');
      const r = await peer.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(outcome).toMatchObject({ ok: true, status: 200 });
      expect(r.messages).toMatch(/^Refer-To: <?sip:transfer@example\.com>?/m);
      await expectEndedSince(sut, before, ['transferred']);
    },
  );

  it('a declined REFER falls back to a bridge; the busy target fails it and the caller stays with the agent', async () => {
    const before = endedCalls(sut).length;
    const target = startSipp({
      scenario: 'uas-busy.xml',
      localIp: TARGET_HOST,
      localPort: 43291,
      mediaPort: 43293,
      timeoutMs: 15_000,
    });
    const peer = caller({ scenario: 'uac-refer-reject.xml', localPort: 43204, mediaPort: 43256 });
    const call = await live();
    const outcome = await sut.srv.server.calls.transfer(call.id, 'busy');
    expect(outcome).toMatchObject({ ok: false, status: 486 });
    const r = await peer.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const t = await target.result;
    expect(t.exitCode, describeSipp(t)).toBe(0);
    // The caller, not the transfer, ended the call.
    await expectEndedSince(sut, before, ['caller-bye']);
  });

  it(
    'relays the caller’s SIP INFO digits to a bridged target as RFC 4733 events',
    { timeout: 40_000 },
    async () => {
      // The target's media: record RFC 4733 events (PT 101), one digit per event timestamp (RFC 4733 §2.5.1).
      const media = createSocket('udp4');
      await new Promise<void>((resolve) => media.bind(0, TARGET_HOST, resolve));
      const events = new Map<number, number>();
      media.on('message', (m) => {
        if (m.length >= 16 && (m[1]! & 0x7f) === 101) events.set(m.readUInt32BE(4), m[12]!);
      });
      try {
        const target = startSipp({
          scenario: `${SCENARIOS}uas-bridge-target.xml`,
          localIp: TARGET_HOST,
          localPort: 43292,
          mediaPort: 43294,
          vars: { rtp: String(media.address().port) },
          timeoutMs: 30_000,
        });
        const peer = caller({
          scenario: `${SCENARIOS}bridge-dtmf-caller.xml`,
          service: 'bridge',
          localPort: 43205,
          mediaPort: 43258,
          vars: { t1: '3000' },
          timeoutMs: 30_000,
        });
        const call = await live();
        const outcome = await sut.srv.server.calls.transfer(call.id, 'bridged');
        expect(outcome).toMatchObject({ ok: true });
        const r = await peer.result;
        expect(r.exitCode, describeSipp(r)).toBe(0);
        const t = await target.result;
        expect(t.exitCode, describeSipp(t)).toBe(0);
        // RFC 4733 event codes 4 and 2, in order.
        expect([...events.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e)).toEqual([4, 2]);
      } finally {
        media.close();
      }
    },
  );
});
