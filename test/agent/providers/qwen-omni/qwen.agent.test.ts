/** The Qwen-Omni adapter against the protocol-faithful DashScope mock (test/support/qwen-mock.ts). */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentOptions } from '../../../../src/agent/agent.js';
import type { AgentErrorEvent, AgentEvents } from '../../../../src/agent/events.js';
import { qwenOmniProvider, type QwenOmniAgent } from '../../../../src/agent/providers/qwen-omni/index.js';
import { clientEventSchema } from '../../../../src/agent/providers/qwen-omni/schemas.js';
import { startQwenMock, type QwenMockServer } from '../../../support/qwen-mock.js';

const logger = pino({ level: 'silent' });
let mock: QwenMockServer | undefined;
let agent: QwenOmniAgent | undefined;
const errors: AgentErrorEvent[] = [];

function tone(rateHz: number, ms: number, amplitude: number): Int16Array {
  const pcm = new Int16Array((rateHz * ms) / 1000);
  for (let i = 0; i < pcm.length; i++)
    pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * 440 * i) / rateHz));
  return pcm;
}

function push(a: QwenOmniAgent, ms: number, loud: boolean): void {
  for (let t = 0; t < ms; t += 20) a.pushAudio(tone(16_000, 20, loud ? 12_000 : 0));
}

function next<K extends keyof AgentEvents>(
  a: QwenOmniAgent,
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
): Promise<{ mock: QwenMockServer; agent: QwenOmniAgent }> {
  mock = await startQwenMock();
  const credential = qwenOmniProvider.credentialSchema.parse({ apiKey: 'qwen-test', url: mock.url });
  agent = qwenOmniProvider.create(
    credential,
    {
      instructions: 'You are a phone agent.',
      voice: 'Chelsie',
      inputFormat: { encoding: 'pcm16', sampleRateHz: 16000 },
      outputFormat: { encoding: 'pcm16', sampleRateHz: 24000 },
      tools: [
        {
          name: 'lookup_order',
          description: 'Look up an order',
          parameters: { type: 'object', properties: { id: { type: 'string' } } },
        },
      ],
      vad: { type: 'server_vad', threshold: 0.5, silenceDurationMs: 700 },
      logger,
      ...extra,
    },
    {},
  ) as QwenOmniAgent;
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
  expect(violations).toEqual([]);
});

describe('qwen-omni adapter', () => {
  it('connects with the model in the URL and configures a beta-style session with nested tools', async () => {
    const { mock } = await setup();
    expect(mock.models).toEqual(['qwen-omni-turbo-realtime']);
    const update = (await mock.waitForMessage('session.update')) as any;
    expect(update.event_id).toMatch(/^event_/);
    expect(update.session).toEqual({
      modalities: ['text', 'audio'],
      input_audio_format: 'pcm16',
      output_audio_format: 'pcm24',
      input_audio_transcription: { model: 'gummy-realtime-v1' },
      turn_detection: { type: 'server_vad', threshold: 0.5, silence_duration_ms: 700 },
      voice: 'Chelsie',
      instructions: 'You are a phone agent.',
      tools: [
        {
          type: 'function',
          function: {
            name: 'lookup_order',
            description: 'Look up an order',
            parameters: { type: 'object', properties: { id: { type: 'string' } } },
          },
        },
      ],
    });
  });

  it('speech → speech events → 24 kHz reply audio, transcript, usage, turn end', async () => {
    const { mock, agent } = await setup();
    mock.enqueueTurn({ replyAudioPcm16: tone(24_000, 500, 8000), replyText: 'Hi!' });
    const chunks: Buffer[] = [];
    agent.on('assistant.audio', (e) => chunks.push(e.audio));
    const started = next(agent, 'user.speech.started');
    const ended = next(agent, 'user.speech.ended');
    const text = next(agent, 'assistant.text', (e) => e.final);
    const usage = next(agent, 'usage');
    const turnEnd = next(agent, 'assistant.turn.end');
    push(agent, 400, true);
    push(agent, 800, false);
    expect((await started)[0].itemId).toBeTruthy();
    await ended;
    expect((await turnEnd)[0].status).toBe('completed');
    expect(Buffer.concat(chunks).equals(Buffer.from(tone(24_000, 500, 8000).buffer))).toBe(true);
    expect((await text)[0].text).toBe('Hi!');
    expect((await usage)[0]).toMatchObject({
      inputTokens: 100,
      outputTokens: 50,
      inputAudioTokens: 80,
      outputAudioTokens: 40,
    });
    expect(mock.audioReceivedMs()).toBe(1200);
  });

  it('barge-in: response.cancel without truncate, late deltas dropped', async () => {
    const { mock, agent } = await setup({ greeting: 'Tell a long story.' });
    mock.enqueueTurn({ replyAudioPcm16: tone(24_000, 20_000, 8000) });
    const first = next(agent, 'assistant.audio');
    await agent.greet();
    const [audio] = await first;
    const turnEnd = next(agent, 'assistant.turn.end');
    let late = 0;
    await agent.interrupt({ playedMs: 60, itemId: audio.itemId });
    agent.on('assistant.audio', () => late++);
    await mock.waitForMessage('response.cancel');
    expect((await turnEnd)[0]).toEqual({ responseId: audio.responseId, status: 'cancelled' });
    expect(late).toBe(0);
    expect(mock.received.some((m) => m.type === 'conversation.item.truncate')).toBe(false);
    // Nothing in progress any more: a second interrupt sends nothing (the server would answer with an error).
    await agent.interrupt({ playedMs: 0 });
    expect(mock.received.filter((m) => m.type === 'response.cancel').length).toBe(1);
    expect(errors).toEqual([]);
  });

  it('server-side barge-in during a reply: speech_started, then the cancelled response ends', async () => {
    const { mock, agent } = await setup({ greeting: 'Talk.' });
    mock.enqueueTurn({ replyAudioPcm16: tone(24_000, 20_000, 8000) });
    const first = next(agent, 'assistant.audio');
    await agent.greet();
    await first;
    const speech = next(agent, 'user.speech.started');
    const turnEnd = next(agent, 'assistant.turn.end');
    push(agent, 200, true);
    await speech;
    await agent.interrupt({ playedMs: 100 });
    expect((await turnEnd)[0].status).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 50));
    expect(errors).toEqual([]);
  });

  it('interruptions off (barge_in.enabled false): interrupt_response false, the reply survives caller speech', async () => {
    const { mock, agent } = await setup({ greeting: 'Talk.', interruptions: 'off' });
    const update = (await mock.waitForMessage('session.update')) as any;
    expect(update.session.turn_detection).toMatchObject({ interrupt_response: false });
    mock.enqueueTurn({ replyAudioPcm16: tone(24_000, 2000, 8000) });
    const first = next(agent, 'assistant.audio');
    const turnEnd = next(agent, 'assistant.turn.end');
    await agent.greet();
    await first;
    push(agent, 200, true);
    expect((await turnEnd)[0].status).toBe('completed');
  });

  it('tool call → function_call_output + response.create → the model continues', async () => {
    const { mock, agent } = await setup({ greeting: 'Look up order 42.' });
    mock.enqueueTurn({
      replyAudioPcm16: new Int16Array(0),
      toolCall: { name: 'lookup_order', args: { id: '42' } },
    });
    mock.enqueueTurn({ replyAudioPcm16: tone(24_000, 200, 8000) });
    const calls: Array<AgentEvents['tool.call'][0]> = [];
    agent.on('tool.call', (c) => calls.push(c));
    const call = next(agent, 'tool.call');
    await agent.greet();
    const [toolCall] = await call;
    expect(toolCall).toMatchObject({ name: 'lookup_order', args: { id: '42' } });
    const audio = next(agent, 'assistant.audio');
    await agent.sendToolResult(toolCall.callId, { status: 'shipped' });
    await audio;
    expect(calls.length).toBe(1);
    const output = (await mock.waitForMessage('conversation.item.create')) as any;
    expect(output.item).toEqual({
      type: 'function_call_output',
      call_id: toolCall.callId,
      output: '{"status":"shipped"}',
    });
  });

  it('a provider error event is non-fatal and the session stays usable', async () => {
    const { mock, agent } = await setup();
    const err = next(agent, 'error');
    mock.sendRecoverableError();
    expect((await err)[0]).toMatchObject({ fatal: false, providerCode: 'invalid_value' });
    mock.enqueueTurn({ replyAudioPcm16: tone(24_000, 100, 8000) });
    const audio = next(agent, 'assistant.audio');
    await agent.sendText('Hello?');
    await audio;
  });

  it('close() sends session.finish and waits for session.finished', async () => {
    const { mock, agent } = await setup();
    await agent.close();
    await mock.waitForMessage('session.finish', undefined, 100);
    expect(mock.received.at(-1)?.type).toBe('session.finish');
  });

  it('a dropped socket reconnects with a fresh session.update; refused reconnects are fatal', async () => {
    const { mock, agent } = await setup();
    mock.dropConnection();
    await mock.waitForMessage(
      'session.update',
      () => mock.received.filter((m) => m.type === 'session.update').length > 1,
    );
    expect(errors.map((e) => e.fatal)).toEqual([false]);
    const fatal = next(agent, 'error', (e) => e.fatal, 20_000);
    const closed = next(agent, 'session.close', () => true, 20_000);
    mock.refuseConnections(true);
    mock.dropConnection();
    await fatal;
    await closed;
  });

  it('a wrong key fails start() with AGENT_AUTH_FAILED', async () => {
    mock = await startQwenMock();
    const credential = qwenOmniProvider.credentialSchema.parse({ apiKey: 'wrong', url: mock.url });
    agent = qwenOmniProvider.create(
      credential,
      {
        inputFormat: { encoding: 'pcm16', sampleRateHz: 16000 },
        outputFormat: { encoding: 'pcm16', sampleRateHz: 24000 },
        logger,
      },
      {},
    ) as QwenOmniAgent;
    await expect(agent.start()).rejects.toMatchObject({ code: 'AGENT_AUTH_FAILED' });
  });

  it('the client schema rejects audio-only modalities and flat tools', () => {
    expect(
      clientEventSchema.safeParse({ type: 'session.update', session: { modalities: ['audio'] } }).success,
    ).toBe(false);
    expect(
      clientEventSchema.safeParse({
        type: 'session.update',
        session: { tools: [{ type: 'function', name: 'f', parameters: {} }] },
      }).success,
    ).toBe(false);
    expect(
      clientEventSchema.safeParse({
        type: 'conversation.item.truncate',
        item_id: 'x',
        content_index: 0,
        audio_end_ms: 0,
      }).success,
    ).toBe(false);
  });
});
