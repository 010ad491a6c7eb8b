import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallRecorder } from '../../src/call/recorder.js';

/** A stand-in codec for the test: each payload byte becomes one sample of value byte*100. */
const decode = (payload: Buffer, out: Int16Array): number => {
  for (let i = 0; i < payload.length; i++) out[i] = payload[i]! * 100;
  return payload.length;
};

function readStereo(wav: Buffer): { rate: number; channels: number; left: number[]; right: number[] } {
  expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
  expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
  const dataBytes = wav.readUInt32LE(40);
  expect(dataBytes).toBe(wav.length - 44);
  const left: number[] = [];
  const right: number[] = [];
  for (let o = 44; o < 44 + dataBytes; o += 4) {
    left.push(wav.readInt16LE(o));
    right.push(wav.readInt16LE(o + 2));
  }
  return { rate: wav.readUInt32LE(24), channels: wav.readUInt16LE(22), left, right };
}

describe('CallRecorder', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-rec-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const make = (now: () => number) =>
    new CallRecorder({
      dir,
      meta: {
        callId: 'call-1',
        tenant: 'acme',
        from: '+15550001',
        to: '100',
        codec: 'PCMU',
        provider: 'openai',
        direction: 'inbound',
      },
      sampleRateHz: 8000,
      frameSamples: 4,
      decodeCaller: decode,
      decodeAgent: decode,
      logger: pino({ level: 'silent' }),
      now,
      flushIntervalMs: 60_000,
    });

  it('writes aligned stereo audio, the timeline and call.json without secrets', async () => {
    let t = 1000;
    const rec = make(() => t);
    rec.frame(Buffer.from([1, 2, 3, 4]), undefined);
    t += 20;
    rec.frame(Buffer.from([5, 6, 7, 8]), Buffer.from([9, 9, 9, 9]));
    rec.event('barge-in', { action: 'interrupted', playedMs: 740 });
    rec.event('wire', { direction: 'out', message: { type: 'session.update' } });
    rec.event('tool.result', { name: 'end_call', ok: true });
    t += 20;
    rec.frame(undefined, Buffer.from([1, 1, 1, 1]));
    await rec.close('end_call');

    const wav = readStereo(await readFile(join(rec.path, 'audio.wav')));
    expect(wav.rate).toBe(8000);
    expect(wav.channels).toBe(2);
    expect(wav.left).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 0, 0, 0, 0]);
    expect(wav.right).toEqual([0, 0, 0, 0, 900, 900, 900, 900, 100, 100, 100, 100]);

    const events = (await readFile(join(rec.path, 'events.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.kind)).toEqual(['barge-in', 'wire', 'tool.result']);
    expect(events[0]).toEqual({ t: 20, kind: 'barge-in', action: 'interrupted', playedMs: 740 });

    const meta = JSON.parse(await readFile(join(rec.path, 'call.json'), 'utf8'));
    expect(meta).toMatchObject({
      formatVersion: 1,
      tenant: 'acme',
      codec: 'PCMU',
      endingReason: 'end_call',
      counters: { bargeIns: 1 },
    });
    expect(meta.toolCalls).toEqual([{ name: 'end_call', ok: true }]);
  });

  it('leaves readable files after each flush even if never closed (crash)', async () => {
    const rec = make(() => 0);
    for (let i = 0; i < 10; i++) rec.frame(Buffer.from([1, 1, 1, 1]), undefined);
    rec.event('call.active', {});
    await rec.flush();
    for (let i = 0; i < 5; i++) rec.frame(Buffer.from([2, 2, 2, 2]), undefined);
    await rec.flush();
    // No close(): the process "died" here.
    const wav = readStereo(await readFile(join(rec.path, 'audio.wav')));
    expect(wav.left.length).toBe(60);
    expect(wav.left.at(-1)).toBe(200);
    expect((await readFile(join(rec.path, 'events.jsonl'), 'utf8')).trim()).toBe(
      '{"t":0,"kind":"call.active"}',
    );
    const meta = JSON.parse(await readFile(join(rec.path, 'call.json'), 'utf8'));
    expect(meta.endedAt).toBeNull();
    await rec.close('test');
  });

  it('stops recording (not the call) when it falls behind', async () => {
    const rec = new CallRecorder({
      dir,
      meta: {
        callId: 'call-2',
        tenant: 'acme',
        from: 'a',
        to: 'b',
        codec: 'PCMU',
        provider: 'echo',
        direction: 'inbound',
      },
      sampleRateHz: 8000,
      frameSamples: 160,
      decodeCaller: decode,
      decodeAgent: decode,
      logger: pino({ level: 'silent' }),
      maxPendingBytes: 4000,
      flushIntervalMs: 60_000,
      redactNumbers: true,
    });
    for (let i = 0; i < 20; i++) rec.frame(Buffer.alloc(160, 1), undefined);
    expect(rec.stoppedReason).toMatch(/fell behind/);
    await rec.close('caller-bye');
    const meta = JSON.parse(await readFile(join(rec.path, 'call.json'), 'utf8'));
    expect(meta.recordingStopped).toMatch(/fell behind/);
    expect(meta.from).toBe('[redacted]');
  });
});
