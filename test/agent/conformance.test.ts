/**
 * One conformance suite for every provider adapter (STYLE.md §13): each target runs the same generic
 * cases against its own protocol-faithful mock server on 127.0.0.1 port 0.
 *
 * To add a provider, append an entry to `targets` (nothing else in this file should need to change).
 */
import { once } from 'node:events';
import { alaw, mulaw } from 'alawmulaw';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent, AgentOptions } from '../../src/agent/agent.js';
import type { AgentErrorEvent, AgentEvents, AudioFormat } from '../../src/agent/events.js';
import type { ProviderDefinition } from '../../src/agent/provider.js';
import { azureOpenaiProvider } from '../../src/agent/providers/azure-openai/index.js';
import { geminiProvider } from '../../src/agent/providers/gemini/index.js';
import { openaiProvider } from '../../src/agent/providers/openai/index.js';
import { qwenOmniProvider } from '../../src/agent/providers/qwen-omni/index.js';
import type { MockProviderServer } from '../support/mock-provider.js';
import { startGeminiMock } from '../support/gemini-mock.js';
import { startOpenAIMock } from '../support/openai-mock.js';
import { startQwenMock } from '../support/qwen-mock.js';

export interface ConformanceTarget {
  readonly slug: string;
  /** Each target has its own credential type. */
  readonly definition: ProviderDefinition<any>;
  startMock(): Promise<MockProviderServer>;
  /** A valid credential pointing at the mock. */
  credential(mockUrl: string): Record<string, unknown>;
  /** A credential the mock rejects at connect time (bad key), or undefined to skip that case. */
  badCredential?(mockUrl: string): Record<string, unknown>;
  readonly inputFormat: AudioFormat;
  readonly outputFormat: AudioFormat;
  /** Client messages a local interrupt() mid-reply must produce, e.g. ['response.cancel', 'conversation.item.truncate']. */
  readonly interruptMessages: readonly string[];
  /** The session-setup message type, sent on connect and replayed on reconnect ('session.update', 'setup'). */
  readonly setupMessage: string;
}

const targets: ConformanceTarget[] = [
  {
    slug: 'openai',
    definition: openaiProvider,
    startMock: () => startOpenAIMock(),
    credential: (url) => ({ apiKey: 'sk-test', url }),
    badCredential: (url) => ({ apiKey: 'sk-wrong', url }),
    inputFormat: { encoding: 'pcmu', sampleRateHz: 8000 },
    outputFormat: { encoding: 'pcmu', sampleRateHz: 8000 },
    interruptMessages: ['response.cancel', 'conversation.item.truncate'],
    setupMessage: 'session.update',
  },
  {
    slug: 'openai (pcm16 24 kHz)',
    definition: openaiProvider,
    startMock: () => startOpenAIMock(),
    credential: (url) => ({ apiKey: 'sk-test', url }),
    inputFormat: { encoding: 'pcm16', sampleRateHz: 24000 },
    outputFormat: { encoding: 'pcm16', sampleRateHz: 24000 },
    interruptMessages: ['response.cancel', 'conversation.item.truncate'],
    setupMessage: 'session.update',
  },
  {
    slug: 'azure-openai',
    definition: azureOpenaiProvider,
    startMock: () => startOpenAIMock({ mode: 'azure' }),
    credential: (url) => ({
      apiKey: 'az-test',
      endpoint: 'https://example.openai.azure.com',
      deployment: 'gpt-realtime',
      url,
    }),
    badCredential: (url) => ({
      apiKey: 'az-wrong',
      endpoint: 'https://example.openai.azure.com',
      deployment: 'gpt-realtime',
      url,
    }),
    inputFormat: { encoding: 'pcma', sampleRateHz: 8000 },
    outputFormat: { encoding: 'pcma', sampleRateHz: 8000 },
    interruptMessages: ['response.cancel', 'conversation.item.truncate'],
    setupMessage: 'session.update',
  },
  // Gemini / Qwen-Omni entries are appended here.
  {
    slug: 'gemini',
    definition: geminiProvider,
    startMock: () => startGeminiMock(),
    credential: (url) => ({ apiKey: 'gemini-test', url }),
    badCredential: (url) => ({ apiKey: 'gemini-wrong', url }),
    inputFormat: { encoding: 'pcm16', sampleRateHz: 16000 },
    outputFormat: { encoding: 'pcm16', sampleRateHz: 24000 },
    // No truncate or cancel message exists: barge-in only flushes locally [providers.md §2.5].
    interruptMessages: [],
    setupMessage: 'setup',
  },
  {
    slug: 'qwen-omni',
    definition: qwenOmniProvider,
    startMock: () => startQwenMock(),
    credential: (url) => ({ apiKey: 'qwen-test', url }),
    badCredential: (url) => ({ apiKey: 'qwen-wrong', url }),
    inputFormat: { encoding: 'pcm16', sampleRateHz: 16000 },
    outputFormat: { encoding: 'pcm16', sampleRateHz: 24000 },
    // response.cancel only; conversation.item.truncate is not a DashScope client event [providers.md §3.4].
    interruptMessages: ['response.cancel'],
    setupMessage: 'session.update',
  },
];

// ---------------------------------------------------------------------------------------------------------

const silentLogger = pino({ level: 'silent' });

/** Bytes per ms of audio in `format` (G.711: 8; PCM16: rate/500). */
function bytesPerMs(format: AudioFormat): number {
  return format.encoding === 'pcm16' ? format.sampleRateHz / 500 : 8;
}

/** A loud tone (speech for an energy VAD) or silence, `durationMs` long, encoded in `format`. */
function makeAudio(format: AudioFormat, durationMs: number, loud: boolean): Buffer {
  const samples = Math.round((format.sampleRateHz * durationMs) / 1000);
  const pcm = new Int16Array(samples);
  if (loud) {
    for (let i = 0; i < samples; i++)
      pcm[i] = Math.round(12000 * Math.sin((2 * Math.PI * 440 * i) / format.sampleRateHz));
  }
  if (format.encoding === 'pcmu') return Buffer.from(mulaw.encode(pcm));
  if (format.encoding === 'pcma') return Buffer.from(alaw.encode(pcm));
  return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}

/** Push `durationMs` of audio in 20 ms frames. */
function pushAudio(agent: Agent, format: AudioFormat, durationMs: number, loud: boolean): void {
  for (let t = 0; t < durationMs; t += 20) agent.pushAudio(makeAudio(format, 20, loud));
}

/** A reply of `durationMs` of tone at the mock's output rate. */
function replyPcm(mock: MockProviderServer, durationMs: number): Int16Array {
  const rate = mock.outputSampleRateHz;
  const pcm = new Int16Array(Math.round((rate * durationMs) / 1000));
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / rate));
  return pcm;
}

function nextEvent<K extends keyof AgentEvents>(
  agent: Agent,
  name: K,
  predicate: (...args: AgentEvents[K]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<AgentEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      agent.off(name, listener as never);
      reject(new Error(`timed out waiting for agent event ${String(name)}`));
    }, timeoutMs);
    const listener = (...args: AgentEvents[K]): void => {
      if (!predicate(...args)) return;
      clearTimeout(timer);
      agent.off(name, listener as never);
      resolve(args);
    };
    agent.on(name, listener as never);
  });
}

describe.each(targets)('conformance: $slug', (target) => {
  let mock: MockProviderServer | undefined;
  let agent: Agent | undefined;
  const errors: AgentErrorEvent[] = [];
  let opened = 0;

  async function setup(
    extra: Partial<AgentOptions> = {},
  ): Promise<{ mock: MockProviderServer; agent: Agent }> {
    mock = await target.startMock();
    const credential = target.definition.credentialSchema.parse(target.credential(mock.url));
    agent = target.definition.create(
      credential,
      {
        instructions: 'You are a test agent.',
        inputFormat: target.inputFormat,
        outputFormat: target.outputFormat,
        tools: [
          {
            name: 'lookup_order',
            description: 'Look up an order',
            parameters: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
          },
        ],
        logger: silentLogger,
        ...extra,
      },
      {},
    );
    agent.on('error', (e) => errors.push(e));
    agent.on('session.open', () => opened++);
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
    opened = 0;
    expect(violations).toEqual([]);
  });

  it('start() opens and configures the session', async () => {
    const { mock } = await setup();
    expect(opened).toBe(1);
    await mock.waitForMessage(target.setupMessage);
    expect(errors).toEqual([]);
  });

  it('caller speech → user.speech.started → reply audio in the output format → turn end', async () => {
    const { mock, agent } = await setup();
    mock.enqueueTurn({ replyAudioPcm16: replyPcm(mock, 1000), replyText: 'Hello there.' });
    let audioBytes = 0;
    agent.on('assistant.audio', (e) => {
      audioBytes += e.audio.length;
      expect(e.itemId).toBeTruthy();
      expect(e.responseId).toBeTruthy();
    });
    const started = nextEvent(agent, 'user.speech.started');
    const ended = nextEvent(agent, 'assistant.turn.end');
    pushAudio(agent, target.inputFormat, 600, true);
    pushAudio(agent, target.inputFormat, 1200, false);
    await started;
    const [turnEnd] = await ended;
    expect(turnEnd.status).toBe('completed');
    expect(audioBytes).toBe(1000 * bytesPerMs(target.outputFormat));
    expect(mock.audioReceivedMs()).toBeGreaterThanOrEqual(1000);
  });

  it('greet() makes the model speak first', async () => {
    const { mock, agent } = await setup({ greeting: 'Greet the caller.' });
    mock.enqueueTurn({ replyAudioPcm16: replyPcm(mock, 200) });
    const audio = nextEvent(agent, 'assistant.audio');
    await agent.greet();
    await audio;
    await nextEvent(agent, 'assistant.turn.end');
  });

  it('local interrupt mid-reply cancels and drops late audio of the cancelled response', async () => {
    const { mock, agent } = await setup({ greeting: 'Tell a long story.' });
    mock.enqueueTurn({ replyAudioPcm16: replyPcm(mock, 20_000) });
    const [first] = await (async () => {
      const p = nextEvent(agent, 'assistant.audio');
      await agent.greet();
      return p;
    })();
    let late = 0;
    const interrupted = agent.interrupt({ playedMs: 40, itemId: first.itemId });
    agent.on('assistant.audio', (e) => {
      if (e.responseId === first.responseId) late++;
    });
    await interrupted;
    for (const type of target.interruptMessages) await mock.waitForMessage(type);
    await new Promise((r) => setTimeout(r, 100));
    expect(late).toBe(0);
  });

  it('tool call → result → the model continues', async () => {
    const { mock, agent } = await setup({ greeting: 'Look up order 42.' });
    mock.enqueueTurn({
      replyAudioPcm16: new Int16Array(0),
      toolCall: { name: 'lookup_order', args: { id: '42' } },
    });
    mock.enqueueTurn({ replyAudioPcm16: replyPcm(mock, 300), replyText: 'It shipped.' });
    const call = nextEvent(agent, 'tool.call');
    await agent.greet();
    const [toolCall] = await call;
    expect(toolCall.name).toBe('lookup_order');
    expect(toolCall.args).toEqual({ id: '42' });
    const audio = nextEvent(agent, 'assistant.audio');
    await agent.sendToolResult(toolCall.callId, { status: 'shipped' });
    await audio;
  });

  it('a recoverable provider error keeps the session usable', async () => {
    const { mock, agent } = await setup();
    const err = nextEvent(agent, 'error');
    mock.sendRecoverableError();
    const [e] = await err;
    expect(e.fatal).toBe(false);
    mock.enqueueTurn({ replyAudioPcm16: replyPcm(mock, 200) });
    const audio = nextEvent(agent, 'assistant.audio');
    await agent.sendText('Hello?');
    await audio;
  });

  it('a dropped connection reconnects and replays the session setup', async () => {
    const { mock, agent } = await setup();
    await mock.waitForMessage(target.setupMessage);
    const setups = () => mock.received.filter((m) => m.type === target.setupMessage).length;
    const before = setups();
    mock.dropConnection();
    await mock.waitForMessage(target.setupMessage, () => setups() > before, 15_000);
    expect(errors.filter((e) => e.fatal)).toEqual([]);
    mock.enqueueTurn({ replyAudioPcm16: replyPcm(mock, 200) });
    const audio = nextEvent(agent, 'assistant.audio');
    await agent.sendText('Are you still there?');
    await audio;
  });

  it('a dropped connection that cannot reconnect is a fatal error', async () => {
    const { mock, agent } = await setup();
    const fatal = nextEvent(agent, 'error', (e) => e.fatal, 30_000);
    mock.refuseConnections(true);
    mock.dropConnection();
    const [e] = await fatal;
    expect(e.fatal).toBe(true);
  });

  it('close() is idempotent and later calls fail with AGENT_CLOSED', async () => {
    const { agent } = await setup();
    const closed = once(agent, 'session.close');
    await agent.close();
    await agent.close();
    await closed;
    expect(() => agent.pushAudio(Buffer.alloc(160))).toThrow(
      expect.objectContaining({ code: 'AGENT_CLOSED' }),
    );
    await expect(agent.sendText('x')).rejects.toMatchObject({ code: 'AGENT_CLOSED' });
  });

  it.runIf(target.badCredential !== undefined)(
    'a rejected key fails start() with AGENT_AUTH_FAILED',
    async () => {
      mock = await target.startMock();
      const credential = target.definition.credentialSchema.parse(target.badCredential!(mock.url));
      agent = target.definition.create(
        credential,
        { inputFormat: target.inputFormat, outputFormat: target.outputFormat, logger: silentLogger },
        {},
      );
      agent.on('error', (e) => errors.push(e));
      await expect(agent.start()).rejects.toMatchObject({ code: 'AGENT_AUTH_FAILED' });
    },
  );
});
