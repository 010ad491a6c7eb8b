/**
 * Every recorded Gemini Live frame (test/fixtures/providers/gemini-live/, js-genai system-test recordings)
 * goes through the wire schemas: client frames through the strict client schema (the real server accepted
 * them), server frames through the tolerant server schema.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  clientMessageSchema,
  clientMessageType,
  serverMessageSchema,
} from '../../../../src/agent/providers/gemini/schemas.js';
import { parseWebsocketLog, readWebsocketLogs } from '../../../support/gemini-log.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/providers/gemini-live/', import.meta.url));
const logs = readWebsocketLogs(FIXTURES);

describe('gemini-log reader', () => {
  it('reads one-line client frames and multi-line server frames', () => {
    const frames = parseWebsocketLog('>13 {"setup":{}}\n<27 {\n  "setupComplete": {}\n}\n\n>2 {}\n');
    expect(frames.map((f) => [f.direction, f.text])).toEqual([
      ['client', '{"setup":{}}'],
      ['server', '{\n  "setupComplete": {}\n}'],
      ['client', '{}'],
    ]);
  });

  it('finds every recording, and each frame has the length its marker declares (plus line endings)', () => {
    expect(logs.length).toBeGreaterThanOrEqual(19);
    for (const log of logs) {
      expect(log.frames.length, log.name).toBeGreaterThan(0);
      for (const frame of log.frames) {
        // The recorder counts the frame plus its line ending(s): one newline after a client frame, two after
        // a pretty-printed server frame.
        const overhead = frame.direction === 'client' ? 1 : 2;
        expect(Buffer.byteLength(frame.text) + overhead, `${log.name}:${frame.line}`).toBe(
          frame.declaredBytes,
        );
      }
    }
  });
});

describe.each(logs)('gemini wire schemas: $name', ({ frames }) => {
  it('every client frame is a valid client message', () => {
    for (const frame of frames.filter((f) => f.direction === 'client')) {
      const result = clientMessageSchema.safeParse(JSON.parse(frame.text));
      expect(result.error?.issues, `line ${frame.line}`).toBeUndefined();
    }
  });

  it('every server frame is a valid server message', () => {
    for (const frame of frames.filter((f) => f.direction === 'server')) {
      const result = serverMessageSchema.safeParse(JSON.parse(frame.text));
      expect(result.error?.issues, `line ${frame.line}`).toBeUndefined();
    }
  });

  it('the first client frame is setup', () => {
    const first = frames.find((f) => f.direction === 'client');
    expect(clientMessageType(JSON.parse(first!.text))).toBe('setup');
  });
});

describe('gemini wire schemas: recorded content', () => {
  const all = logs.flatMap((l) => l.frames.map((f) => ({ ...f, json: JSON.parse(f.text) as unknown })));
  const server = all.filter((f) => f.direction === 'server').map((f) => serverMessageSchema.parse(f.json));

  it('parses tool calls with object args and ids', () => {
    const calls = server.flatMap((m) => m.toolCall?.functionCalls ?? []);
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      expect(call.id).toBeTruthy();
      expect(call.args).toEqual({ location: 'Redmond, WA' });
    }
  });

  it('parses inline audio and usage metadata', () => {
    const audio = server.flatMap((m) => m.serverContent?.modelTurn?.parts ?? []).filter((p) => p.inlineData);
    expect(audio.length).toBeGreaterThan(0);
    for (const part of audio) {
      expect(part.inlineData!.mimeType).toMatch(/^audio\/pcm/);
      expect(Buffer.from(part.inlineData!.data!, 'base64').length % 2).toBe(0);
    }
    const usage = server.map((m) => m.usageMetadata).filter((u) => u !== undefined);
    expect(usage[0]?.promptTokenCount).toBe(515);
  });

  it('rejects unknown and malformed client messages', () => {
    expect(clientMessageSchema.safeParse({ bogus: {} }).success).toBe(false);
    expect(clientMessageSchema.safeParse({ setup: { model: 'm', unknownField: 1 } }).success).toBe(false);
    expect(clientMessageSchema.safeParse({ setup: {}, clientContent: {} }).success).toBe(false);
    expect(
      clientMessageSchema.safeParse({
        realtimeInput: { audio: { data: 'not base64!', mimeType: 'audio/pcm' } },
      }).success,
    ).toBe(false);
    expect(
      clientMessageSchema.safeParse({
        setup: {
          model: 'm',
          tools: [{ functionDeclarations: [{ name: 'f', parameters: { type: 'object' } }] }],
        },
      }).success,
    ).toBe(false);
  });

  it('tolerates unknown server fields', () => {
    expect(
      serverMessageSchema.safeParse({ somethingNew: { x: 1 }, serverContent: { novel: true } }).success,
    ).toBe(true);
  });
});
