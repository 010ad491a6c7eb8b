import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { replayFast } from '../../src/replay/fast.js';
import { formatOutcome } from '../../src/replay/outcome.js';
import { RECORDINGS_DIR, SCENARIOS } from './make-recordings.js';

const logger = pino({ level: 'silent' });

describe('replay in virtual time', () => {
  for (const s of SCENARIOS) {
    it(`${s.name}: the replay matches the recording`, async () => {
      const started = performance.now();
      const r = await replayFast(join(RECORDINGS_DIR, s.name), { logger });
      const elapsedMs = performance.now() - started;
      expect(
        r.diff,
        `${r.diff.join('\n')}\nexpected:\n${formatOutcome(r.expected)}\nactual:\n${formatOutcome(r.actual)}`,
      ).toEqual([]);
      expect(r.expected.callerTurnsMs.length).toBeGreaterThan(0);
      // Virtual time: seconds of call in a fraction of the time (not a benchmark, a sanity bound).
      expect(elapsedMs).toBeLessThan(5000);
    });
  }

  it('the recordings cover a tool call of each kind, a barge-in and both endings', async () => {
    const outcomes = await Promise.all(
      SCENARIOS.map(async (s) => (await replayFast(join(RECORDINGS_DIR, s.name), { logger })).expected),
    );
    const tools = outcomes.flatMap((o) => o.toolCalls.map((c) => c.name));
    expect(tools).toEqual(expect.arrayContaining(['transfer_call', 'end_call']));
    expect(outcomes.some((o) => o.bargeIns.length > 0)).toBe(true);
    expect(new Set(outcomes.map((o) => o.ending))).toEqual(new Set(['caller-bye', 'end_call']));
  });

  it('follows the caller, not the clock: a caller starting 470 ms later still matches', async () => {
    for (const name of ['interruption', 'goodbye-hangup']) {
      const r = await replayFast(join(RECORDINGS_DIR, name), { logger, callerDelayMs: 470 });
      expect(r.diff).toEqual([]);
      expect(r.actual.callerTurnsMs[0]).toBeGreaterThan(r.expected.callerTurnsMs[0]! + 400);
    }
  });

  it('a build with barge-in disabled fails the interruption replay with a readable diff', async () => {
    const r = await replayFast(join(RECORDINGS_DIR, 'interruption'), {
      logger,
      profileOverrides: { barge_in: { enabled: false } },
    });
    expect(r.diff).toEqual(
      expect.arrayContaining([
        'barge-ins: expected during caller turns [1], got []',
        expect.stringMatching(/^agent audio from caller turn 1: expected \d+ ms, got \d+ ms/),
      ]),
    );
  });
});
