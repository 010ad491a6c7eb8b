import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseServerEvent } from '../../../../src/agent/providers/openai/schemas.js';

const dir = join(import.meta.dirname, '../../../fixtures/providers/openai-ga');
const frames = readdirSync(dir)
  .filter((f) => f.endsWith('.jsonl'))
  .flatMap((f) =>
    readFileSync(join(dir, f), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((line, i) => ({ where: `${f}:${i + 1}`, frame: JSON.parse(line) as { type: string } })),
  );

describe('OpenAI server event schemas vs recorded GA frames', () => {
  it('has the recorded frames', () => {
    expect(frames.length).toBeGreaterThanOrEqual(37);
  });

  it.each(frames)('$where ($frame.type) parses', ({ frame }) => {
    const parsed = parseServerEvent(frame);
    expect(parsed.kind).not.toBe('malformed');
    if (parsed.kind === 'known') expect(parsed.event.type).toBe(frame.type);
  });

  it('knows every event type the adapter acts on in the recordings', () => {
    const unknown = new Set(
      frames
        .map((f) => parseServerEvent(f.frame))
        .filter((p) => p.kind === 'unknown')
        .map((p) => p.type),
    );
    // Only informational events may be unknown to the adapter.
    for (const t of unknown)
      expect(['response.content_part.added', 'response.content_part.done']).not.toContain(t);
    expect(
      [...unknown].every(
        (t) => !t.startsWith('input_audio_buffer.') && !t.startsWith('response.output_audio'),
      ),
    ).toBe(true);
  });

  it('keeps the fields it maps (response.done usage, speech_started item id)', () => {
    const done = frames.find((f) => f.frame.type === 'response.done')!;
    const parsed = parseServerEvent(done.frame);
    expect(parsed.kind).toBe('known');
    if (parsed.kind !== 'known' || parsed.event.type !== 'response.done') throw new Error('unreachable');
    expect(parsed.event.response.status).toBe('completed');
    expect(parsed.event.response.usage?.output_tokens).toBeGreaterThan(0);
    const started = frames.find((f) => f.frame.type === 'input_audio_buffer.speech_started')!;
    const p2 = parseServerEvent(started.frame);
    if (p2.kind !== 'known' || p2.event.type !== 'input_audio_buffer.speech_started')
      throw new Error('not parsed');
    expect(p2.event.item_id).toMatch(/^item_/);
  });

  it('tolerates unknown event types and reports malformed known ones without throwing', () => {
    expect(parseServerEvent({ type: 'output_audio_buffer.started', response_id: 'r' })).toEqual({
      kind: 'unknown',
      type: 'output_audio_buffer.started',
    });
    expect(parseServerEvent({ type: 'response.output_audio.delta' }).kind).toBe('malformed');
    expect(parseServerEvent('garbage').kind).toBe('malformed');
    expect(parseServerEvent(null).kind).toBe('malformed');
  });

  it('accepts beta event names', () => {
    const p = parseServerEvent({
      type: 'response.audio.delta',
      response_id: 'r',
      item_id: 'i',
      output_index: 0,
      content_index: 0,
      delta: 'AAAA',
    });
    expect(p.kind).toBe('known');
  });
});
