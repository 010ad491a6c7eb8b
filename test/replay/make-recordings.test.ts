import { describe, expect, it } from 'vitest';
import { makeRecordings, SCENARIOS } from './make-recordings.js';

// Regenerates test/recordings/ (not part of the normal run): MAKE_RECORDINGS=1 vitest run <this file>
describe.skipIf(process.env.MAKE_RECORDINGS !== '1')('make test/recordings', () => {
  it('records every scenario against the OpenAI mock', { timeout: 120_000 }, async () => {
    const made = await makeRecordings();
    expect(made).toHaveLength(SCENARIOS.length);
  });
});
