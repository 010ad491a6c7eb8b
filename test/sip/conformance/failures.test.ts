/**
 * Conformance: failure paths after the answer end the call with a BYE and free everything (issue 11). The
 * agent cannot start (no credential for its provider), the fallback prompt plays, the fallback transfer is a
 * bridge, and the bridge finds no RTP port (the range holds exactly one, taken by the call itself). Before,
 * that threw outside any try: an unhandled rejection and a session stuck in 'transferring'.
 * Ports: sipp 43700–43709 on 127.0.0.2; the server's RTP range is one port.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSipp, runSipp } from '../../support/sipp.js';
import {
  expectEndedSince,
  expectNothingLeaked,
  logsWith,
  startConformanceServer,
  type ServerUnderTest,
} from './harness.js';

const DIALPLAN = [
  'tenant: failing',
  'numbers: ["*"]',
  'agent:',
  '  provider: openai',
  '  fallback: { transfer_to: desk }',
  '  tools:',
  '    transfer_call:',
  '      method: bridge',
  '      targets: { desk: "sip:desk@127.0.0.3:43709" }',
].join('\n');

describe('SIP conformance: a failing agent and a failing transfer (production server)', () => {
  let sut: ServerUnderTest;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    const rtp = 30_000 + 2 * randomInt(0, 2000);
    sut = await startConformanceServer({
      dialplans: { 'failing.yaml': DIALPLAN },
      env: { RTP_PORT_MIN: String(rtp), RTP_PORT_MAX: String(rtp + 2) },
    });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await sut?.close();
  });

  it('agent fails → fallback prompt → bridge without a port → BYE, port released, no unhandled rejection', async () => {
    const r = await runSipp({
      scenario: 'uac-wait-bye.xml',
      target: sut.target,
      localIp: '127.0.0.2',
      service: 'agent',
      localPort: 43700,
      mediaPort: 43702,
      timeoutMs: 30_000,
    });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    await expectEndedSince(sut, 0, ['agent-failed']);
    expect(logsWith(sut, 'bridge: no RTP port for the second leg')).toHaveLength(1);
    await expectNothingLeaked(sut);
    expect(unhandled).toEqual([]);
  });
});
