/**
 * Conformance: reliable provisional responses (RFC 3262) on the production server, which does not implement
 * PRACK. `Require: 100rel` is refused with 420 Bad Extension and `Unsupported: 100rel` (RFC 3261 §8.2.2.3)
 * and no call starts; `Supported: 100rel` alone is an ordinary call whose 180 is unreliable (no RSeq, no
 * Require: 100rel, so the caller sends no PRACK). sipp scenarios in scenarios/, sipp on 127.0.0.71,
 * ports 49210–49219 (media 49260–49269).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeSipp, runSipp } from '../../support/sipp.js';
import {
  endedCalls,
  expectEndedSince,
  expectNothingLeaked,
  logsWith,
  startConformanceServer,
  type ServerUnderTest,
} from './harness.js';

const PEER = '127.0.0.71';
const SCENARIOS = new URL('./scenarios/', import.meta.url).pathname;

/** The responses sipp received, as status lines with their header blocks. */
function responses(messages: string, status: number): string[] {
  return [
    ...messages.matchAll(new RegExp(`SIP/2\\.0 ${status} [^\\r\\n]*\\r?\\n(?:[^\\r\\n]+\\r?\\n)*`, 'g')),
  ].map((m) => m[0]);
}

describe('SIP conformance: 100rel (production server, echo agent)', () => {
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

  it.each([
    { transport: 'udp', localPort: 49210 },
    { transport: 'tcp', localPort: 49211 },
  ] as const)(
    'Require: 100rel over $transport gets 420 with Unsupported: 100rel and starts no call',
    async ({ transport, localPort }) => {
      const started = logsWith(sut, 'call started').length;
      const r = await runSipp({
        scenario: `${SCENARIOS}require-100rel.xml`,
        target: sut.target,
        localIp: PEER,
        localPort,
        mediaPort: 49260,
        transport,
        service: 'agent',
      });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const refused = responses(r.messages, 420);
      expect(refused.length, describeSipp(r)).toBeGreaterThanOrEqual(1);
      expect(refused[0]).toMatch(/^Unsupported: *100rel\r?$/m);
      // Nothing else was answered: no provisional beyond 100, no 2xx.
      expect(r.messages).not.toMatch(/SIP\/2\.0 (18\d|2\d\d) /);
      expect(logsWith(sut, 'call started').length).toBe(started);
    },
  );

  it('Supported: 100rel alone is a normal call with an unreliable 180 (no RSeq, no PRACK)', async () => {
    const before = endedCalls(sut).length;
    const r = await runSipp({
      scenario: `${SCENARIOS}supported-100rel.xml`,
      target: sut.target,
      localIp: PEER,
      localPort: 49212,
      mediaPort: 49262,
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
