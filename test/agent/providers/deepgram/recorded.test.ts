/**
 * The Deepgram adapter against the recorded real frames (test/fixtures/providers/deepgram-agent/, deepgram-python-sdk
 * tests recorded 2025-07-22): a WebSocket server replays each recording's server frames, in their order, after the
 * adapter's Settings and first InjectUserMessage; the recorded Settings configs must pass the strict client schema.
 * The recordings hold no audio frames: one synthetic 160-byte μ-law frame follows each AgentStartedSpeaking.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { AgentEvents } from '../../../../src/agent/events.js';
import { DeepgramAgent } from '../../../../src/agent/providers/deepgram/index.js';
import { clientMessageSchema } from '../../../../src/agent/providers/deepgram/schemas.js';
import { WsMockBase } from '../../../support/ws-mock-base.js';

const dir = new URL('../../../fixtures/providers/deepgram-agent/', import.meta.url);
const read = (name: string): unknown => JSON.parse(readFileSync(new URL(name, dir), 'utf8'));

/** The wire frames of a recording: SDK `Unhandled.raw` unwrapped, the SDK's own `Open` left out. */
function wireFrames(name: string): Array<Record<string, unknown>> {
  const events = read(name) as Array<{ type: string; data: Record<string, unknown> }>;
  return events
    .filter((e) => e.type !== 'Open')
    .map((e) =>
      e.type === 'Unhandled'
        ? (JSON.parse(e.data.raw as string) as Record<string, unknown>)
        : // The SDK re-serialised AgentStartedSpeaking without its type key (providers-2.md §7.4).
          { ...e.data, type: e.type },
    );
}

interface Replay {
  readonly base: WsMockBase;
  readonly url: string;
}

async function replayServer(frames: Array<Record<string, unknown>>): Promise<Replay> {
  const [welcome, applied, ...rest] = frames;
  const base = new WsMockBase(
    (req) =>
      req.headers.authorization === 'Token dg-recorded' ? { accept: true } : { accept: false, status: 401 },
    (ws: WebSocket) => {
      ws.send(JSON.stringify(welcome));
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) return;
        const json = JSON.parse(data.toString('utf8')) as { type: string };
        base.record(json.type, json);
        const parsed = clientMessageSchema.safeParse(json);
        if (!parsed.success) base.violation(`${json.type}: ${parsed.error.message}`);
        if (json.type === 'Settings') ws.send(JSON.stringify(applied));
        if (
          json.type === 'InjectUserMessage' &&
          base.received.filter((r) => r.type === json.type).length === 1
        ) {
          void (async () => {
            for (const f of rest) {
              await new Promise((r) => setTimeout(r, 2));
              ws.send(JSON.stringify(f));
              if (f.type === 'AgentStartedSpeaking') ws.send(Buffer.alloc(160, 0xff), { binary: true });
            }
          })();
        }
      });
    },
  );
  await base.listen();
  return { base, url: `ws://127.0.0.1:${base.port}/v1/agent/converse` };
}

function collect(agent: DeepgramAgent): { [K in keyof AgentEvents]?: AgentEvents[K][0][] } {
  const seen: { [K in keyof AgentEvents]?: AgentEvents[K][0][] } = {};
  for (const name of [
    'session.open',
    'user.transcript',
    'assistant.text',
    'assistant.audio',
    'assistant.turn.end',
    'tool.call',
    'error',
  ] as const) {
    const listener = (e: unknown): void => void ((seen[name] ??= []) as unknown[]).push(e);
    agent.on(name, listener);
  }
  return seen;
}

describe('deepgram adapter against the recorded frames', () => {
  let replay: Replay | undefined;
  let agent: DeepgramAgent | undefined;
  afterEach(async () => {
    await agent?.close();
    await replay?.base.close();
    expect(replay?.base.violations ?? []).toEqual([]);
  });

  it('every recorded Settings config passes the strict client schema (speak fallbacks included)', () => {
    for (const name of [
      'basic_conversation-a40b2785',
      'fallback_providers-e16542b1',
      'function_call_conversation-ac8ed698',
      'inject_agent_message-3c5004a4',
    ]) {
      const config = read(`${name}-config.json`) as { agent_config: unknown };
      const settings = {
        type: 'Settings',
        audio: {
          input: { encoding: 'mulaw', sample_rate: 8000 },
          output: { encoding: 'mulaw', sample_rate: 8000, container: 'none' },
        },
        agent: config.agent_config,
      };
      expect(clientMessageSchema.safeParse(settings).error?.issues ?? [], name).toEqual([]);
    }
  });

  it('basic_conversation: Welcome id, user and assistant texts, one completed turn per AgentAudioDone', async () => {
    const frames = wireFrames('basic_conversation-a40b2785-events.json');
    replay = await replayServer(frames);
    agent = new DeepgramAgent(
      { apiKey: 'dg-recorded', url: replay.url },
      {
        inputFormat: { encoding: 'pcmu', sampleRateHz: 8000 },
        outputFormat: { encoding: 'pcmu', sampleRateHz: 8000 },
        greeting: 'Hello, can you help me with a simple question?',
        logger: pino({ level: 'silent' }),
      },
      {},
    );
    const seen = collect(agent);
    await agent.start();
    expect(seen['session.open']).toEqual([{ sessionId: '772095bc-1657-46ff-b1b6-8cfa818e07c0' }]);
    const done = new Promise<void>((resolve) => {
      agent!.on('assistant.turn.end', () => {
        if ((seen['assistant.turn.end']?.length ?? 0) === 3) resolve();
      });
    });
    await agent.greet();
    await done;
    expect(seen['user.transcript']?.map((t) => t.text)).toEqual([
      'Hello, can you help me with a simple question?',
      'What is 2 + 2?',
      'Thank you for your help.',
    ]);
    const texts = seen['assistant.text'] ?? [];
    expect(texts.map((t) => t.text)).toEqual([
      'Of course!',
      '2 + 2 equals 4!',
      "You're welcome!",
      'If you have any more questions, feel free to ask!',
    ]);
    // Two sentences before one AgentAudioDone are one reply: the last two texts share a response id.
    expect(texts[2]?.responseId).toBe(texts[3]?.responseId);
    expect(new Set(texts.map((t) => t.responseId)).size).toBe(3);
    expect(seen['assistant.turn.end']?.map((t) => t.status)).toEqual(['completed', 'completed', 'completed']);
    // The synthetic audio frame after each AgentStartedSpeaking belongs to that reply.
    expect(seen['assistant.audio']?.map((a) => a.responseId)).toEqual(
      [0, 1, 2].map((i) => texts[i]?.responseId),
    );
    expect(seen.error).toBeUndefined();
    // The greeting went in as a user turn, the recorded way of starting a turn by text.
    expect(replay.base.received.map((r) => r.type)).toEqual(['Settings', 'InjectUserMessage']);
  });

  it('function_call_conversation: each client-side request becomes a tool.call, answered by id and name', async () => {
    replay = await replayServer(wireFrames('function_call_conversation-ac8ed698-events.json'));
    agent = new DeepgramAgent(
      { apiKey: 'dg-recorded', url: replay.url },
      {
        inputFormat: { encoding: 'pcmu', sampleRateHz: 8000 },
        outputFormat: { encoding: 'pcmu', sampleRateHz: 8000 },
        tools: [
          {
            name: 'get_weather',
            description: 'Weather',
            parameters: { type: 'object', properties: { location: { type: 'string' } } },
          },
        ],
        logger: pino({ level: 'silent' }),
      },
      {},
    );
    const seen = collect(agent);
    agent.on(
      'tool.call',
      (c) => void agent!.sendToolResult(c.callId, { success: true, result: 'Mock function response' }),
    );
    await agent.start();
    await agent.sendText("What's the weather like in New York?");
    for (let i = 0; i < 3; i++)
      await replay.base.waitForMessage(
        'FunctionCallResponse',
        (m) =>
          (m as { id: string }).id ===
          ['call_BdZmuwyqy15qpX8PG4RxQijs', 'call_7EHtiwEKh2Vhl4f7UZgAry7B', 'call_Mr1wtrrEWrsf8EizUWSZBs8u'][
            i
          ],
      );
    expect(seen['tool.call']).toEqual([
      { callId: 'call_BdZmuwyqy15qpX8PG4RxQijs', name: 'get_weather', args: { location: 'New York' } },
      { callId: 'call_7EHtiwEKh2Vhl4f7UZgAry7B', name: 'get_weather', args: { location: 'New York' } },
      { callId: 'call_Mr1wtrrEWrsf8EizUWSZBs8u', name: 'get_weather', args: { location: 'London' } },
    ]);
    const responses = replay.base.received
      .filter((r) => r.type === 'FunctionCallResponse')
      .map((r) => r.message);
    expect(responses[0]).toEqual({
      type: 'FunctionCallResponse',
      id: 'call_BdZmuwyqy15qpX8PG4RxQijs',
      name: 'get_weather',
      content: '{"success":true,"result":"Mock function response"}',
    });
    // The Settings carried the tool as a client-side function, shaped like the recorded config's.
    const settings = replay.base.received.find((r) => r.type === 'Settings')?.message as {
      agent: { think: unknown };
    };
    const recorded = read('function_call_conversation-ac8ed698-config.json') as {
      agent_config: { think: { functions: Array<{ name: string }> } };
    };
    expect(Object.keys((settings.agent.think as { functions: object[] }).functions[0]!).sort()).toEqual(
      Object.keys(recorded.agent_config.think.functions[0]!).sort(),
    );
  });
});
