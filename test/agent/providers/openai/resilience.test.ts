import { afterEach, describe, expect, it } from 'vitest';
import { harness, nextEvent, sleep, tone, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  const violations = h?.mock.violations.slice() ?? [];
  await h?.close();
  h = undefined;
  expect(violations).toEqual([]);
});

describe('OpenAI adapter: errors and reconnects', () => {
  it('a recoverable error event is reported non-fatal and the session keeps working', async () => {
    h = await harness();
    const err = nextEvent(h.agent, 'error');
    h.mock.sendRecoverableError();
    expect(await err).toMatchObject({
      code: 'AGENT_PROVIDER_ERROR',
      fatal: false,
      retryable: false,
      providerCode: 'invalid_value',
    });
    const audio = nextEvent(h.agent, 'assistant.audio');
    await h.agent.sendText('still there?');
    await audio;
  });

  it('a dropped socket mid-reply: turn ends failed, reconnect replays session.update, AGENT_CONNECTION_LOST non-fatal', async () => {
    h = await harness({ agent: { greeting: 'Long story.' } });
    h.mock.enqueueTurn({ replyAudioPcm16: tone(24000, 20_000) });
    const first = nextEvent(h.agent, 'assistant.audio');
    await h.agent.greet();
    const { responseId } = await first;
    await h.agent.updateInstructions('Changed instructions.');
    await h.mock.waitForMessage(
      'session.update',
      (m: any) => m.session.instructions === 'Changed instructions.',
    );
    const failed = nextEvent(h.agent, 'assistant.turn.end', (e) => e.responseId === responseId);
    const lost = nextEvent(h.agent, 'error');
    h.mock.dropConnection();
    expect((await failed).status).toBe('failed');
    expect(await lost).toMatchObject({ code: 'AGENT_CONNECTION_LOST', fatal: false, retryable: true });
    const updates = h.sent('session.update').filter((m) => m.session.audio !== undefined);
    expect(updates).toHaveLength(2);
    // The replayed setup is the full one, with the instructions as last updated.
    expect(updates[1].session.instructions).toBe('Changed instructions.');
    expect(updates[1].session.audio.input.format).toEqual({ type: 'audio/pcmu' });
    const audio = nextEvent(h.agent, 'assistant.audio');
    await h.agent.sendText('hello again');
    await audio;
  });

  it('reconnect refused: one fatal error, then session.close; no unhandled rejection', async () => {
    h = await harness();
    const fatal = nextEvent(h.agent, 'error', (e) => e.fatal, 20_000);
    const closed = nextEvent(h.agent, 'session.close', undefined, 20_000);
    h.mock.refuseConnections(true);
    h.mock.dropConnection();
    expect(await fatal).toMatchObject({ code: 'AGENT_CONNECTION_LOST', fatal: true });
    await closed;
    await sleep(50);
    expect(h.errors.filter((e) => e.fatal)).toHaveLength(1);
    expect(() => h!.agent.pushAudio(Buffer.alloc(160))).toThrow(
      expect.objectContaining({ code: 'AGENT_CLOSED' }),
    );
  });

  it('interrupt() with nothing playing sends nothing', async () => {
    h = await harness();
    await h.agent.interrupt({ playedMs: 0 });
    await sleep(50);
    expect(h.sent('response.cancel')).toEqual([]);
    expect(h.sent('conversation.item.truncate')).toEqual([]);
  });
});

describe('OpenAI adapter: beta protocol and Azure', () => {
  it('beta: OpenAI-Beta header, flat session fields, response.audio.delta', async () => {
    h = await harness({
      mock: { mode: 'beta' },
      agent: { temperature: 0.8, voice: 'alloy', greeting: 'Hi' },
    });
    const [update] = h.sent('session.update');
    expect(update.session).toMatchObject({
      modalities: ['audio', 'text'],
      voice: 'alloy',
      input_audio_format: 'g711_ulaw',
      output_audio_format: 'g711_ulaw',
      input_audio_transcription: { model: 'gpt-4o-mini-transcribe' },
      turn_detection: { type: 'server_vad', create_response: true, interrupt_response: true },
      temperature: 0.8,
      tool_choice: 'auto',
    });
    expect(update.session.type).toBeUndefined();
    h.mock.enqueueTurn({ replyAudioPcm16: tone(24000, 400), replyText: 'Hello.' });
    const chunks: Buffer[] = [];
    h.agent.on('assistant.audio', (e) => chunks.push(e.audio));
    const done = nextEvent(h.agent, 'assistant.turn.end');
    await h.agent.greet();
    await done;
    expect(Buffer.concat(chunks).length).toBe(400 * 8);
  });

  it('Azure GA: /openai/v1/realtime?model=<deployment> with the api-key header', async () => {
    h = await harness({ mock: { mode: 'azure' } });
    const [update] = h.sent('session.update');
    expect(update.session.type).toBe('realtime');
    expect(update.session.model).toBe('my-realtime');
    // Azure wants a deployment for transcription: off unless one is configured.
    expect(update.session.audio.input.transcription).toBeUndefined();
  });

  it('Azure preview (apiVersion): /openai/realtime?api-version&deployment, beta shapes', async () => {
    h = await harness({
      mock: { mode: 'azure-preview' },
      credential: { apiVersion: '2025-04-01-preview', transcriptionDeployment: 'whisper' },
    });
    const [update] = h.sent('session.update');
    expect(update.session.input_audio_format).toBe('g711_ulaw');
    expect(update.session.input_audio_transcription).toEqual({ model: 'whisper' });
  });

  it('Azure: a wrong api-key fails with AGENT_AUTH_FAILED', async () => {
    h = await harness({ mock: { mode: 'azure' }, credential: { apiKey: 'wrong' }, start: false });
    await expect(h.agent.start()).rejects.toMatchObject({ code: 'AGENT_AUTH_FAILED' });
  });
});
