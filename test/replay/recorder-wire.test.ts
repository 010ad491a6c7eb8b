import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { CallRecorder } from '../../src/call/recorder.js';

it('the recorder keeps wire messages but never raw audio, and call.json carries the profile', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sb-rec-wire-'));
  try {
    const rec = new CallRecorder({
      dir,
      meta: {
        callId: 'c1',
        tenant: 't',
        from: 'a',
        to: 'b',
        codec: 'PCMU',
        provider: 'qwen-omni',
        direction: 'inbound',
        profile: { provider: 'qwen-omni', greeting: 'Hello' },
      },
      sampleRateHz: 8000,
      frameSamples: 160,
      decodeCaller: () => 0,
      decodeAgent: () => 0,
      logger: pino({ level: 'silent' }),
      flushIntervalMs: 60_000,
    });
    const audio = Buffer.alloc(4800, 7).toString('base64');
    rec.event('wire', { direction: 'in', message: { type: 'unknown.audio', nested: [{ data: audio }] } });
    rec.event('wire', { direction: 'in', message: { type: 'response.done', response: { id: 'r1' } } });
    await rec.close('caller-bye');
    const lines = (await readFile(join(dir, 'c1', 'events.jsonl'), 'utf8')).trim().split('\n');
    expect(JSON.parse(lines[0]!).message.nested[0].data).toEqual({ bytes: 4800 });
    expect(JSON.parse(lines[1]!).message).toEqual({ type: 'response.done', response: { id: 'r1' } });
    const meta = JSON.parse(await readFile(join(dir, 'c1', 'call.json'), 'utf8'));
    expect(meta.profile).toEqual({ provider: 'qwen-omni', greeting: 'Hello' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
