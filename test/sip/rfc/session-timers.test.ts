/**
 * RFC 4028 session timers on the production server with sipp as the caller. The server's minimum is made
 * small (SIP_SESSION_MIN_SE=4) so that intervals of a few seconds are acceptable in a test.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../../support/server.js';
import { describeSipp, runSipp } from '../../support/sipp.js';
import { randomLoopback } from '../embedded/helpers.js';
import { startRfcServer } from './raw-server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startRfcServer({ SIP_SESSION_MIN_SE: '4' });
});
afterAll(async () => {
  await srv.close();
});

async function sipp(scenario: string, vars: Record<string, string>) {
  return await runSipp({
    scenario,
    target: `127.0.0.1:${srv.sipPort}`,
    localIp: randomLoopback(),
    localPort: 20_000 + randomInt(0, 20_000),
    mediaPort: 40_000 + randomInt(0, 10_000) * 2,
    service: '100',
    vars,
    timeoutMs: 30_000,
  });
}

/** sipp's -trace_msg log: the messages it received, in order. */
function received(messages: string): string[] {
  return messages.split(/-{20,}[^\n]*\n/).filter((block) => /message received/i.test(block));
}

describe('RFC 4028 session timers (production server, sipp)', () => {
  it('refreshes with UPDATE when it is the refresher, and re-arms after each refresh', async () => {
    const r = await sipp('uac-session-refresh.xml', { se: '8' });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const updates = received(r.messages).filter((m) => /^\s*UPDATE /m.test(m));
    expect(updates).toHaveLength(2);
    for (const update of updates) {
      expect(update).toMatch(/^Session-Expires: 8;refresher=uac/m);
      expect(update).toMatch(/^Supported: timer/m);
    }
  });

  it('sends BYE when the refresher (the caller) never refreshes', async () => {
    const r = await sipp('uac-session-expire.xml', { se: '6' });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const ok = received(r.messages).find((m) => /^\s*SIP\/2\.0 200/m.test(m) && /CSeq: 1 INVITE/.test(m));
    expect(ok).toMatch(/^Session-Expires: 6;refresher=uac/m);
  });

  it('keeps the call while the caller refreshes with UPDATE, answering each with the interval', async () => {
    const r = await sipp('uac-session-peer-refresh.xml', { se: '6' });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const answers = received(r.messages).filter(
      (m) => /^\s*SIP\/2\.0 200/m.test(m) && /CSeq: \d+ UPDATE/.test(m),
    );
    expect(answers).toHaveLength(2);
    for (const ok of answers) expect(ok).toMatch(/^Session-Expires: 6;refresher=uac/m);
    expect(received(r.messages).filter((m) => /^\s*BYE /m.test(m))).toEqual([]);
  });

  it('answers 422 with Min-SE to an interval below the minimum, then accepts the retry', async () => {
    const r = await sipp('uac-session-422.xml', { small: '2', se: '4' });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const tooSmall = received(r.messages).find((m) => /^\s*SIP\/2\.0 422/m.test(m));
    expect(tooSmall).toMatch(/^Min-SE: 4\s*$/m);
    const ok = received(r.messages).find((m) => /^\s*SIP\/2\.0 200/m.test(m) && /CSeq: 2 INVITE/.test(m));
    expect(ok).toMatch(/^Session-Expires: 4;refresher=uac/m);
    expect(ok).toMatch(/^Require: timer/m);
  });
});
