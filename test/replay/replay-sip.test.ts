import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { formatOutcome } from '../../src/replay/outcome.js';
import { replayOverSip } from '../../src/replay/sip.js';
import { RECORDINGS_DIR, SCENARIOS } from './make-recordings.js';

const logger = pino({ level: 'silent' });

// The `switchboard replay` code path: an in-process server (dialplan `provider: replay`, record: true),
// the softphone playing the recorded caller over real SIP/RTP on loopback, the replay's recording compared.
describe('replay over SIP', () => {
  for (const s of SCENARIOS) {
    it(`${s.name}: the replay matches the recording`, { timeout: 60_000 }, async () => {
      const r = await replayOverSip(join(RECORDINGS_DIR, s.name), { logger });
      expect(
        r.diff,
        `${r.diff.join('\n')}\nexpected:\n${formatOutcome(r.expected)}\nactual:\n${formatOutcome(r.actual)}`,
      ).toEqual([]);
    });
  }

  it(
    'with barge-in disabled the interruption replay fails with a readable diff',
    { timeout: 60_000 },
    async () => {
      const r = await replayOverSip(join(RECORDINGS_DIR, 'interruption'), {
        logger,
        profileOverrides: { barge_in: { enabled: false } },
      });
      expect(r.diff).toContain('barge-ins: expected during caller turns [1], got []');
      expect(r.diff.some((d) => d.startsWith('agent audio from caller turn 1:'))).toBe(true);
    },
  );
});
