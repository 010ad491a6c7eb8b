/** The Gemini Live adapter against the protocol-faithful mock (test/support/gemini-mock.ts). */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentOptions } from '../../../../src/agent/agent.js';
import type { AgentErrorEvent, AgentEvents } from '../../../../src/agent/events.js';
import { geminiProvider } from '../../../../src/agent/providers/gemini/index.js';
import type { GeminiAgent } from '../../../../src/agent/providers/gemini/gemini-agent.js';
import { startGeminiMock, type GeminiMockServer } from '../../../support/gemini-mock.js';

const logger = pino({ level: 'silent' });
let mock: GeminiMockServer | undefined;
let agent: GeminiAgent | undefined;
const errors: AgentErrorEvent[] = [];
const taps: Array<{ direction: 'in' | 'out'; message: unknown }> = [];

function tone(rateHz: number, ms: number, amplitude: number): Int16Array {
  const pcm = new Int16Array((rateHz * ms) / 1000);
  for (let i = 0; i < pcm.length; i++)
    pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * 440 * i) / rateHz));
  return pcm;
}

function push(a: GeminiAgent, ms: number, loud: boolean): void {
  for (let t = 0; t < ms; t += 20) a.pushAudio(tone(16_000, 20, loud ? 12_000 : 0));
}

function next<K extends keyof AgentEvents>(
  a: GeminiAgent,
  name: K,
  predicate: (...args: AgentEvents[K]) => boolean = () => true,
  timeoutMs = 5000,
): Promise<AgentEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${String(name)}`)), timeoutMs);
    const listener = (...args: AgentEvents[K]): void => {
      if (!predicate(...args)) return;
      clearTimeout(timer);
      a.off(name, listener as never);
      resolve(args);
    };
    a.on(name, listener as never);
  });
}

async function setup(
  extra: Partial<AgentOptions> = {},
  model?: string,
): Promise<{ mock: GeminiMockServer; agent: GeminiAgent }> {
  mock = await startGeminiMock();
  const credential = geminiProvider.credentialSchema.parse({ apiKey: 'gemini-test', url: mock.url, model });
  agent = geminiProvider.create(
    credential,
    {
      instructions: 'You are a phone agent.',
      voice: 'Kore',
      inputFormat: { encoding: 'pcm16', sampleRateHz: 16000 },
      outputFormat: { encoding: 'pcm16', sampleRateHz: 24000 },
      tools: [
        {
          name: 'lookup_order',
          description: 'Look up an order',
          parameters: {
            type: 'object',
            properties: { id: { type: ['string', 'null'] } },
            required: ['id'],
            additionalProperties: false,
          },
        },
      ],
      vad: { type: 'server_vad', silenceDurationMs: 600, prefixPaddingMs: 200 },
      logger,
      wireTap: (direction, message) => taps.push({ direction, message }),
      ...extra,
    },
    {},
  ) as GeminiAgent;
  agent.on('error', (e) => errors.push(e));
  await agent.start();
  return { mock, agent };
}

afterEach(async () => {
  const violations = mock?.violations.slice() ?? [];
  await agent?.close();
  await mock?.close();
  agent = undefined;
  mock = undefined;
  errors.length = 0;
  taps.length = 0;
  expect(violations).toEqual([]);
});

describe('gemini adapter', () => {
  it('sends a complete setup first and waits for setupComplete', async () => {
    const { mock } = await setup({}, 'gemini-live-2.5-flash-preview');
    expect(mock.received[0]?.type).toBe('setup');
    const { setup: s } = (await mock.waitForMessage('setup')) as { setup: Record<string, any> };
    expect(s.model).toBe('models/gemini-live-2.5-flash-preview');
    expect(s.generationConfig).toEqual({
      responseModalities: ['AUDIO'],
      speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Kore' } } },
    });
    expect(s.systemInstruction).toEqual({ parts: [{ text: 'You are a phone agent.' }] });
    expect(s.tools[0].functionDeclarations[0]).toEqual({
      name: 'lookup_order',
      description: 'Look up an order',
      parameters: {
        type: 'OBJECT',
        properties: { id: { type: 'STRING', nullable: true } },
        required: ['id'],
      },
    });
    expect(s.realtimeInputConfig).toEqual({
      automaticActivityDetection: { disabled: false, silenceDurationMs: 600, prefixPaddingMs: 200 },
      activityHandling: 'START_OF_ACTIVITY_INTERRUPTS',
    });
    expect(s.inputAudioTranscription).toEqual({});
    expect(s.outputAudioTranscription).toEqual({});
    expect(s.sessionResumption).toEqual({});
    expect(s.contextWindowCompression).toEqual({ slidingWindow: {} });
  });

  it('streams 16 kHz audio in and 24 kHz audio out, with transcripts, usage and a turn end', async () => {
    const { mock, agent } = await setup();
    mock.enqueueTurn({ replyAudioPcm16: tone(24_000, 500, 8000), replyText: 'Hello there.' });
    const chunks: Buffer[] = [];
    const ids = new Set<string>();
    agent.on('assistant.audio', (e) => {
      chunks.push(e.audio);
      ids.add(`${e.itemId}/${e.responseId}`);
    });
    const started = next(agent, 'user.speech.started');
    const ended = next(agent, 'user.speech.ended');
    const text = next(agent, 'assistant.text', (e) => e.final);
    const usage = next(agent, 'usage');
    const turnEnd = next(agent, 'assistant.turn.end');
    push(agent, 400, true);
    push(agent, 800, false);
    await started;
    await ended;
    expect((await turnEnd)[0].status).toBe('completed');
    expect(Buffer.concat(chunks).length).toBe(500 * 48);
    expect(Buffer.concat(chunks).equals(Buffer.from(tone(24_000, 500, 8000).buffer))).toBe(true);
    expect(ids.size).toBe(1);
    expect((await text)[0].text).toBe('Hello there.');
    expect((await usage)[0]).toMatchObject({ inputTokens: 100, outputTokens: 20 });
    expect(mock.audioReceivedMs()).toBe(1200);
    const audioMsg = (await mock.waitForMessage('realtimeInput')) as any;
    expect(audioMsg.realtimeInput.audio.mimeType).toBe('audio/pcm;rate=16000');
    // The tap never carries audio payloads.
    expect(JSON.stringify(taps)).not.toMatch(/"data":/);
    expect(taps.some((t) => JSON.stringify(t.message).includes('"audioMs":20'))).toBe(true);
  });

  it('barge-in: server interrupted → user.speech.started, late audio dropped, no wire message', async () => {
    const { mock, agent } = await setup({ greeting: 'Tell a long story.' });
    mock.enqueueTurn({ replyAudioPcm16: tone(24_000, 20_000, 8000) });
    const first = next(agent, 'assistant.audio');
    await agent.greet();
    const [audio] = await first;
    let late = 0;
    const turnEnd = next(agent, 'assistant.turn.end');
    const speech = next(agent, 'user.speech.started');
    agent.on('assistant.audio', (e) => {
      if (e.responseId === audio.responseId) late++;
    });
    const sentBefore = mock.received.filter((m) => m.type !== 'realtimeInput').length;
    push(agent, 300, true);
    await speech;
    await agent.interrupt({ playedMs: 100, itemId: audio.itemId });
    expect((await turnEnd)[0]).toEqual({ responseId: audio.responseId, status: 'cancelled' });
    await new Promise((r) => setTimeout(r, 100));
    expect(mock.received.filter((m) => m.type !== 'realtimeInput').length).toBe(sentBefore);
    const lateAtInterrupt = late;
    await new Promise((r) => setTimeout(r, 50));
    expect(late).toBe(lateAtInterrupt);
  });

  it('interruptions off (barge_in.enabled false): NO_INTERRUPTION, and caller speech does not cut the reply', async () => {
    const { mock, agent } = await setup({ greeting: 'Tell a story.', interruptions: 'off' });
    const { setup: s } = (await mock.waitForMessage('setup')) as { setup: Record<string, any> };
    expect(s.realtimeInputConfig.activityHandling).toBe('NO_INTERRUPTION');
    mock.enqueueTurn({ replyAudioPcm16: tone(24_000, 2000, 8000) });
    const first = next(agent, 'assistant.audio');
    const turnEnd = next(agent, 'assistant.turn.end');
    await agent.greet();
    await first;
    push(agent, 300, true);
    expect((await turnEnd)[0].status).toBe('completed');
  });

  it('tool call → tool result with the call id → the model continues', async () => {
    const { mock, agent } = await setup({ greeting: 'Look up order 42.' });
    mock.enqueueTurn({
      replyAudioPcm16: new Int16Array(0),
      toolCall: { name: 'lookup_order', args: { id: '42' } },
    });
    mock.enqueueTurn({ replyAudioPcm16: tone(24_000, 200, 8000) });
    const call = next(agent, 'tool.call');
    await agent.greet();
    const [toolCall] = await call;
    expect(toolCall).toEqual({ callId: 'function-call-1', name: 'lookup_order', args: { id: '42' } });
    const audio = next(agent, 'assistant.audio');
    await agent.sendToolResult(toolCall.callId, 'shipped');
    await audio;
    const response = (await mock.waitForMessage('toolResponse')) as any;
    expect(response.toolResponse.functionResponses).toEqual([
      { id: 'function-call-1', name: 'lookup_order', response: { result: 'shipped' } },
    ]);
  });

  it('goAway → transparent resumption with the latest handle; audio pushed meanwhile arrives', async () => {
    const { mock, agent } = await setup();
    let closed = false;
    let opens = 0;
    agent.on('session.close', () => (closed = true));
    agent.on('session.open', () => opens++);
    mock.enqueueTurn({ replyAudioPcm16: tone(24_000, 100, 8000) });
    await agent.sendText('Hi');
    await next(agent, 'assistant.turn.end');
    await new Promise((r) => setTimeout(r, 20));
    mock.sendGoAway('5s');
    push(agent, 200, false);
    await mock.waitForMessage('setup', (m: any) => m.setup.sessionResumption?.handle !== undefined);
    expect(mock.resumedWith).toEqual(['mock-handle-2']);
    push(agent, 200, false);
    mock.enqueueTurn({ replyAudioPcm16: tone(24_000, 100, 8000) });
    const audio = next(agent, 'assistant.audio');
    await agent.sendText('Still there?');
    await audio;
    expect(mock.audioReceivedMs()).toBe(400);
    expect(closed).toBe(false);
    expect(opens).toBe(0);
    expect(errors).toEqual([]);
    expect(mock.connections).toBe(2);
  });

  it('a transient close (1011) is a non-fatal error and the session resumes', async () => {
    const { mock, agent } = await setup();
    const err = next(agent, 'error');
    mock.sendRecoverableError();
    expect((await err)[0]).toMatchObject({ fatal: false, retryable: true, providerCode: '1011' });
    mock.enqueueTurn({ replyAudioPcm16: tone(24_000, 100, 8000) });
    const audio = next(agent, 'assistant.audio');
    await agent.sendText('Hello?');
    await audio;
    expect(mock.resumedWith.length).toBe(1);
  });

  it('a policy close (1008) is fatal and closes the agent', async () => {
    const { mock, agent } = await setup();
    const closed = next(agent, 'session.close');
    mock.closeWith(1008, 'Operation is not implemented, or supported, or enabled.');
    await closed;
    expect(errors.filter((e) => e.fatal).length).toBe(1);
  });

  it('a rejected key fails start() with AGENT_AUTH_FAILED', async () => {
    mock = await startGeminiMock();
    const credential = geminiProvider.credentialSchema.parse({ apiKey: 'wrong', url: mock.url });
    agent = geminiProvider.create(
      credential,
      {
        inputFormat: { encoding: 'pcm16', sampleRateHz: 16000 },
        outputFormat: { encoding: 'pcm16', sampleRateHz: 24000 },
        logger,
      },
      {},
    ) as GeminiAgent;
    await expect(agent.start()).rejects.toMatchObject({ code: 'AGENT_AUTH_FAILED' });
  });

  it('refuses formats Gemini does not speak', () => {
    expect(() =>
      geminiProvider.create(
        { apiKey: 'k' },
        {
          inputFormat: { encoding: 'pcmu', sampleRateHz: 8000 },
          outputFormat: { encoding: 'pcm16', sampleRateHz: 24000 },
          logger,
        },
        {},
      ),
    ).toThrow(expect.objectContaining({ code: 'AGENT_FORMAT_UNSUPPORTED' }));
  });
});
