import { afterEach, describe, expect, it } from 'vitest';
const decodeBase64 = (b64: string): Buffer => Buffer.from(b64, 'base64');
import { encode, harness, nextEvent, PCM24, PCMA, PCMU, pushAudio, tone, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  const violations = h?.mock.violations.slice() ?? [];
  await h?.close();
  h = undefined;
  expect(violations).toEqual([]);
});

describe('OpenAI adapter: session setup', () => {
  it('sends a GA session.update with formats, server VAD, tools and waits for session.updated', async () => {
    h = await harness({
      agent: {
        voice: 'marin',
        vad: { type: 'server_vad', threshold: 0.6, silenceDurationMs: 400 },
        tools: [
          { name: 'hang_up', description: 'End the call', parameters: { type: 'object', properties: {} } },
        ],
      },
    });
    const [update] = h.sent('session.update');
    expect(update.session).toMatchObject({
      type: 'realtime',
      model: 'gpt-realtime',
      output_modalities: ['audio'],
      instructions: 'You are a test agent.',
      audio: {
        input: {
          format: { type: 'audio/pcmu' },
          transcription: { model: 'gpt-4o-mini-transcribe' },
          turn_detection: {
            type: 'server_vad',
            threshold: 0.6,
            silence_duration_ms: 400,
            create_response: true,
            interrupt_response: true,
          },
        },
        output: { format: { type: 'audio/pcmu' }, voice: 'marin' },
      },
      tools: [
        {
          type: 'function',
          name: 'hang_up',
          description: 'End the call',
          parameters: { type: 'object', properties: {} },
        },
      ],
      tool_choice: 'auto',
    });
    expect(update.session.temperature).toBeUndefined();
    // No audio before session.update.
    expect(h.mock.received[0]!.type).toBe('session.update');
  });

  it('semantic VAD and updateInstructions', async () => {
    h = await harness({ agent: { vad: { type: 'semantic_vad', eagerness: 'low' } } });
    expect(h.sent('session.update')[0].session.audio.input.turn_detection).toEqual({
      type: 'semantic_vad',
      eagerness: 'low',
      create_response: true,
      interrupt_response: true,
    });
    await h.agent.updateInstructions('Be brief.');
    const m: any = await h.mock.waitForMessage(
      'session.update',
      (x: any) => x.session.instructions === 'Be brief.',
    );
    expect(m.session).toEqual({ type: 'realtime', instructions: 'Be brief.' });
  });

  it('rejects formats OpenAI cannot take', async () => {
    h = await harness({ start: false, agent: { inputFormat: { encoding: 'pcm16', sampleRateHz: 16000 } } });
    await expect(h.agent.start()).rejects.toMatchObject({ code: 'AGENT_FORMAT_UNSUPPORTED' });
  });

  it('a bad key fails start() with AGENT_AUTH_FAILED (401 on upgrade)', async () => {
    h = await harness({ start: false, credential: { apiKey: 'sk-nope' } });
    await expect(h.agent.start()).rejects.toMatchObject({ code: 'AGENT_AUTH_FAILED' });
  });
});

describe('OpenAI adapter: audio both ways', () => {
  it.each([
    ['pcmu passthrough', PCMU],
    ['pcma passthrough', PCMA],
    ['pcm16 24 kHz', PCM24],
  ] as const)(
    '%s: caller bytes reach the provider unchanged, reply bytes reach the listener unchanged',
    async (_name, format) => {
      h = await harness({ agent: { inputFormat: format, outputFormat: format } });
      const reply = tone(24000, 700, 8000, 300);
      h.mock.enqueueTurn({ replyAudioPcm16: reply, replyText: 'Hello caller.' });
      const chunks: Buffer[] = [];
      h.agent.on('assistant.audio', (e) => chunks.push(e.audio));
      const text: string[] = [];
      h.agent.on('assistant.text', (e) => {
        if (e.final) text.push(e.text);
      });
      const turnEnd = nextEvent(h.agent, 'assistant.turn.end');
      const transcript = nextEvent(h.agent, 'user.transcript', (e) => e.final);
      const speech = encode(format, tone(format.sampleRateHz, 600));
      for (let i = 0; i < speech.length; i += 20 * (format.encoding === 'pcm16' ? 48 : 8))
        h.agent.pushAudio(speech.subarray(i, i + 20 * (format.encoding === 'pcm16' ? 48 : 8)));
      pushAudio(h.agent, format, 1000, false);
      expect((await turnEnd).status).toBe('completed');
      expect((await transcript).text).toBe('mock caller words');
      // Every append is ≥ 20 ms, and the provider received exactly the bytes we pushed.
      const appended = Buffer.concat(h.sent('input_audio_buffer.append').map((m) => decodeBase64(m.audio)));
      expect(appended.subarray(0, speech.length).equals(speech)).toBe(true);
      const bytesPerMs = format.encoding === 'pcm16' ? 48 : 8;
      for (const m of h.sent('input_audio_buffer.append'))
        expect(decodeBase64(m.audio).length).toBeGreaterThanOrEqual(20 * bytesPerMs);
      expect(h.sent('session.update')[0].session.audio.input.format).toEqual(
        format.encoding === 'pcm16'
          ? { type: 'audio/pcm', rate: 24000 }
          : { type: format.encoding === 'pcmu' ? 'audio/pcmu' : 'audio/pcma' },
      );
      // Output: 700 ms in the negotiated format, as streamed by the mock.
      expect(Buffer.concat(chunks).length).toBe(700 * bytesPerMs);
      expect(text).toEqual(['Hello caller.']);
      // The wire tap summarises audio instead of recording base64.
      const tapped = h.tap.find(
        (t) => t.direction === 'out' && t.message.type === 'input_audio_buffer.append',
      );
      expect(tapped?.message.audio).toEqual({ audioMs: 20, bytes: 20 * bytesPerMs });
      const tappedIn = h.tap.find(
        (t) => t.direction === 'in' && t.message.type === 'response.output_audio.delta',
      );
      expect(tappedIn?.message.delta).toMatchObject({ audioMs: 100 });
    },
  );

  it('speech events carry the provider item ids and usage is reported', async () => {
    h = await harness();
    const started = nextEvent(h.agent, 'user.speech.started');
    const ended = nextEvent(h.agent, 'user.speech.ended');
    const usage = nextEvent(h.agent, 'usage');
    pushAudio(h.agent, PCMU, 500, false);
    pushAudio(h.agent, PCMU, 600, true);
    pushAudio(h.agent, PCMU, 800, false);
    const s = await started;
    expect(s.itemId).toMatch(/^item_/);
    expect(s.audioStartMs).toBeGreaterThanOrEqual(480);
    expect((await ended).itemId).toBe(s.itemId);
    expect(await usage).toMatchObject({
      inputTokens: 10,
      outputTokens: 20,
      inputAudioTokens: 6,
      outputAudioTokens: 15,
    });
  });
});
