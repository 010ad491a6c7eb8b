/**
 * The price table (PRICES_FILE): a bad file stops the server at start with the variable named, and the
 * estimate is the documented sum — per minute of the agent's time plus text and audio tokens per million,
 * audio priced as text when the table has no audio price, a provider missing from the table costing nothing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { estimateCost, loadPriceTable, type UsageTotals } from '../../src/outcomes/prices.js';
import { startTestServer } from '../support/server.js';

describe('price table', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-prices-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a bad file at server start, naming PRICES_FILE and the field', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'providers:\n  openai:\n    gpt-realtime: { per_minute: -1 }\n');
    await expect(loadPriceTable(file)).rejects.toThrow(ConfigError);
    await expect(startTestServer({ env: { PRICES_FILE: file } })).rejects.toThrow(
      /PRICES_FILE: .*providers\.openai\.gpt-realtime\.per_minute/,
    );
    await expect(startTestServer({ env: { PRICES_FILE: join(dir, 'missing.json') } })).rejects.toThrow(
      /PRICES_FILE: cannot read/,
    );
  });

  it('estimates per minute plus tokens, audio apart', async () => {
    const file = join(dir, 'ok.yaml');
    await writeFile(
      file,
      [
        'currency: EUR',
        'providers:',
        '  openai:',
        '    gpt-realtime:',
        '      per_minute: 0.01',
        '      input_tokens_per_million: 4',
        '      output_tokens_per_million: 16',
        '      input_audio_tokens_per_million: 32',
        '      output_audio_tokens_per_million: 64',
        '    "*": { input_tokens_per_million: 1 }',
      ].join('\n'),
    );
    const table = await loadPriceTable(file);
    const u = (provider: string, model: string | null): UsageTotals => ({
      provider,
      model,
      inputTokens: 1000,
      outputTokens: 2000,
      inputAudioTokens: 600,
      outputAudioTokens: 1500,
      reports: 3,
    });
    const realtime = u('openai', 'gpt-realtime');
    const other = u('openai', 'gpt-4o-realtime-preview');
    const gemini = u('gemini', null);
    const cost = estimateCost(
      table,
      [realtime, other, gemini],
      new Map([
        [realtime, 2],
        [other, 1],
        [gemini, 1],
      ]),
    );
    const realtimeCost = 0.01 * 2 + (400 * 4 + 600 * 32 + 500 * 16 + 1500 * 64) / 1e6;
    const otherCost = (400 * 1 + 600 * 1) / 1e6;
    expect(cost.currency).toBe('EUR');
    expect(cost.items).toHaveLength(2);
    expect(cost.items[0]?.amount).toBeCloseTo(realtimeCost, 6);
    expect(cost.items[1]?.amount).toBeCloseTo(otherCost, 6);
    expect(cost.total).toBeCloseTo(realtimeCost + otherCost, 6);
  });
});
