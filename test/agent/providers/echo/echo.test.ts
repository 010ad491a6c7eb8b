import { describe, expect, it } from 'vitest';
import { AgentError, type AgentOptions } from '../../../../src/agent/agent.js';
import type { AgentEvents } from '../../../../src/agent/events.js';
import { EchoAgent, echoProvider } from '../../../../src/agent/providers/echo/index.js';
import { captureLogger } from '../../transport/helpers.js';
import { concat, padWithSilence, readWavFixture, tone } from './fixture-audio.js';

const PCM8 = { encoding: 'pcm16', sampleRateHz: 8000 } as const;

function options(extra: Partial<AgentOptions> = {}): AgentOptions {
  return { inputFormat: PCM8, outputFormat: PCM8, logger: captureLogger().logger, ...extra };
}

type Recorded = { [K in keyof AgentEvents]?: Array<AgentEvents[K][0]> } & { order: string[] };

function record(agent: EchoAgent): Recorded {
  const rec: Recorded = { order: [] };
  const names: Array<keyof AgentEvents> = [
    'session.open',
    'session.close',
    'user.speech.started',
    'user.speech.ended',
    'assistant.audio',
    'assistant.text',
    'assistant.turn.end',
    'tool.call',
    'error',
  ];
  for (const name of names) {
    const listener = (payload: unknown): void => {
      ((rec[name] ??= []) as unknown[]).push(payload);
      rec.order.push(name);
    };
    (agent.on as (event: string, l: (payload: unknown) => void) => EchoAgent)(name, listener);
  }
  return rec;
}

function nextEvent<K extends keyof AgentEvents>(agent: EchoAgent, name: K): Promise<AgentEvents[K][0]> {
  return new Promise((resolve) =>
    agent.once(name, ((payload: AgentEvents[K][0]) => resolve(payload)) as never),
  );
}

function pushInFrames(agent: EchoAgent, pcm: Int16Array, frameSamples = 160): void {
  for (let o = 0; o < pcm.length; o += frameSamples) agent.pushAudio(pcm.subarray(o, o + frameSamples));
}

function joinAudio(chunks: ReadonlyArray<{ audio: Buffer }>): Int16Array {
  const all = Buffer.concat(chunks.map((c) => c.audio));
  const out = new Int16Array(all.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = all.readInt16LE(i * 2);
  return out;
}

const billing = readWavFixture('caller-billing-question.wav');
const call = padWithSilence(billing.pcm, 8000, 400, 1200);

describe('echo provider', () => {
  it('detects the turn and echoes exactly the audio of the utterance window', async () => {
    const agent = new EchoAgent(options());
    const rec = record(agent);
    await agent.start();
    expect(rec['session.open']).toHaveLength(1);
    const done = nextEvent(agent, 'assistant.turn.end');
    pushInFrames(agent, call);
    const end = await done;
    expect(end.status).toBe('completed');
    expect(rec.order.slice(0, 3)).toEqual(['session.open', 'user.speech.started', 'user.speech.ended']);
    const started = rec['user.speech.started']![0]!;
    const ended = rec['user.speech.ended']![0]!;
    expect(ended.itemId).toBe(started.itemId);
    expect(started.audioStartMs).toBeGreaterThanOrEqual(400);
    const from = (started.audioStartMs! * 8000) / 1000;
    const to = (ended.audioEndMs! * 8000) / 1000;
    const echoed = joinAudio(rec['assistant.audio']!);
    expect(echoed.length).toBe(to - from);
    expect(Buffer.from(echoed.buffer).equals(Buffer.from(call.slice(from, to).buffer))).toBe(true);
    const audio = rec['assistant.audio']!;
    expect(new Set(audio.map((a) => a.responseId))).toEqual(new Set([end.responseId]));
    expect(new Set(audio.map((a) => a.itemId)).size).toBe(1);
    for (const a of audio) expect(a.audio.length).toBeLessThanOrEqual(60 * 16);
    await agent.close();
  });

  it('gives the same echo when the whole call arrives as one Buffer at an odd byte offset', async () => {
    const agent = new EchoAgent(options());
    const rec = record(agent);
    await agent.start();
    const bytes = Buffer.alloc(call.length * 2 + 1);
    for (let i = 0; i < call.length; i++) bytes.writeInt16LE(call[i]!, 1 + i * 2);
    const done = nextEvent(agent, 'assistant.turn.end');
    agent.pushAudio(bytes.subarray(1));
    await done;
    const started = rec['user.speech.started']![0]!;
    const ended = rec['user.speech.ended']![0]!;
    const from = (started.audioStartMs! * 8000) / 1000;
    const to = (ended.audioEndMs! * 8000) / 1000;
    expect(
      Buffer.from(joinAudio(rec['assistant.audio']!).buffer).equals(Buffer.from(call.slice(from, to).buffer)),
    ).toBe(true);
    await agent.close();
  });

  it('a fresh response per turn; works at 16 kHz', async () => {
    const fmt = { encoding: 'pcm16', sampleRateHz: 16000 } as const;
    const agent = new EchoAgent(options({ inputFormat: fmt, outputFormat: fmt }));
    const rec = record(agent);
    await agent.start();
    const silence = new Int16Array(16000);
    for (const ms of [300, 500]) {
      const done = nextEvent(agent, 'assistant.turn.end');
      pushInFrames(agent, concat(tone(16000, ms), silence), 320);
      await done;
    }
    const ends = rec['assistant.turn.end']!;
    expect(ends.map((e) => e.status)).toEqual(['completed', 'completed']);
    expect(ends[0]!.responseId).not.toBe(ends[1]!.responseId);
    const lengths = ends.map((e) =>
      rec['assistant.audio']!.filter((a) => a.responseId === e.responseId).reduce(
        (n, a) => n + a.audio.length / 2,
        0,
      ),
    );
    expect(lengths).toEqual([16 * 300, 16 * 500]);
    await agent.close();
  });

  it('interrupt() cancels the reply in progress; no audio of it follows', async () => {
    const agent = new EchoAgent(options());
    const rec = record(agent);
    await agent.start();
    const first = nextEvent(agent, 'assistant.audio');
    pushInFrames(agent, call);
    const chunk = await first;
    const cancelled = nextEvent(agent, 'assistant.turn.end');
    await agent.interrupt({ playedMs: 20, itemId: chunk.itemId });
    expect(await cancelled).toEqual({ responseId: chunk.responseId, status: 'cancelled' });
    const audioCount = rec['assistant.audio']!.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(rec['assistant.audio']!.length).toBe(audioCount);
    expect(rec['assistant.turn.end']).toHaveLength(1);
    await agent.interrupt({ playedMs: 0 }); // nothing playing: no-op
    expect(rec['assistant.turn.end']).toHaveLength(1);
    await agent.close();
  });

  it('barge-in: the caller talking over the reply fires user.speech.started and cancels it', async () => {
    const agent = new EchoAgent(options());
    const rec = record(agent);
    await agent.start();
    const first = nextEvent(agent, 'assistant.audio');
    pushInFrames(agent, call);
    const chunk = await first;
    const cancelled = nextEvent(agent, 'assistant.turn.end');
    pushInFrames(agent, tone(8000, 200));
    await cancelled;
    expect(rec['assistant.turn.end']).toEqual([{ responseId: chunk.responseId, status: 'cancelled' }]);
    // Provider order: the caller's speech is reported first, then the reply's cancellation.
    expect(rec.order.filter((n) => n !== 'assistant.audio').slice(-2)).toEqual([
      'user.speech.started',
      'assistant.turn.end',
    ]);
    await agent.close();
  });

  it('DTMF notes become tool calls: # ends the call, 0 transfers to the operator', async () => {
    const agent = new EchoAgent(options());
    await agent.start();
    let call = nextEvent(agent, 'tool.call');
    await agent.sendText('The caller pressed #');
    expect(await call).toMatchObject({ name: 'end_call', args: { reason: 'caller pressed #' } });
    call = nextEvent(agent, 'tool.call');
    await agent.sendText('The caller pressed 0');
    const transfer = await call;
    expect(transfer).toMatchObject({ name: 'transfer_call', args: { destination: 'operator' } });
    expect(typeof transfer.callId).toBe('string');
    const rec = record(agent);
    await agent.sendText('The caller pressed 5');
    await agent.sendText('hello');
    await agent.sendToolResult(transfer.callId, { ok: true });
    await agent.updateInstructions('be brief');
    await new Promise((r) => setImmediate(r));
    expect(rec['tool.call']).toBeUndefined();
    await agent.close();
  });

  it('greet() says the greeting as text and plays a short beep', async () => {
    const agent = new EchoAgent(options({ greeting: 'Welcome to Acme' }));
    const rec = record(agent);
    await agent.start();
    const done = nextEvent(agent, 'assistant.turn.end');
    await agent.greet();
    const end = await done;
    expect(rec['assistant.text']).toEqual([
      { text: 'Welcome to Acme', final: true, itemId: expect.any(String), responseId: end.responseId },
    ]);
    expect(joinAudio(rec['assistant.audio']!).length).toBe(2400); // 300 ms at 8 kHz
    expect(end.status).toBe('completed');

    const silent = new EchoAgent(options());
    const silentRec = record(silent);
    await silent.greet();
    await new Promise((r) => setImmediate(r));
    expect(silentRec.order).toEqual([]);
    await Promise.all([agent.close(), silent.close()]);
  });

  it('close is idempotent; everything after it fails with AGENT_CLOSED', async () => {
    const agent = new EchoAgent(options({ greeting: 'hi' }));
    const rec = record(agent);
    await agent.start();
    const a = agent.close();
    expect(agent.close()).toBe(a);
    await a;
    await agent.close();
    expect(rec['session.close']).toEqual([{ reason: 'closed' }]);
    expect(agent.isClosed).toBe(true);
    const code = (e: unknown): string => (e as AgentError).code;
    expect(() => agent.pushAudio(new Int16Array(160))).toThrow(AgentError);
    for (const p of [
      agent.start(),
      agent.greet(),
      agent.interrupt({ playedMs: 0 }),
      agent.sendText('x'),
      agent.sendToolResult('c', {}),
      agent.updateInstructions('x'),
    ].map((f) => f.then(() => 'resolved', code))) {
      expect(await p).toBe('AGENT_CLOSED');
    }
  });

  it('closing mid-reply stops the audio without a turn end', async () => {
    const agent = new EchoAgent(options());
    const rec = record(agent);
    await agent.start();
    const first = nextEvent(agent, 'assistant.audio');
    pushInFrames(agent, call);
    await first;
    await agent.close();
    const n = rec['assistant.audio']!.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(rec['assistant.audio']!.length).toBe(n);
    expect(rec['assistant.turn.end']).toBeUndefined();
  });

  it('bounds a long utterance and recovers for the next turn', async () => {
    const { logger, lines } = captureLogger();
    const agent = new EchoAgent(options({ logger }), {}, { maxUtteranceMs: 1000 });
    const rec = record(agent);
    await agent.start();
    const long = tone(8000, 2500, 440);
    let done = nextEvent(agent, 'assistant.turn.end');
    pushInFrames(agent, concat(new Int16Array(800), long, new Int16Array(8000)));
    await done;
    const first = joinAudio(rec['assistant.audio']!);
    expect(first.length).toBe(8000);
    const from = (rec['user.speech.started']![0]!.audioStartMs! * 8000) / 1000;
    const expected = concat(new Int16Array(800), long).slice(from, from + 8000);
    expect(Buffer.from(first.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    expect(lines.some((l) => l.includes('echo utterance truncated'))).toBe(true);

    done = nextEvent(agent, 'assistant.turn.end');
    const n = rec['assistant.audio']!.length;
    pushInFrames(agent, concat(tone(8000, 300, 300), new Int16Array(8000)));
    await done;
    expect(joinAudio(rec['assistant.audio']!.slice(n))).toEqual(tone(8000, 300, 300));
    await agent.close();
  });

  it('rejects output ≠ input', () => {
    expect(
      () => new EchoAgent(options({ outputFormat: { encoding: 'pcm16', sampleRateHz: 16000 } })),
    ).toThrow(AgentError);
    expect(echoProvider.capabilities.inputFormats).toHaveLength(3);
  });

  it('an injected scheduler controls the pacing', async () => {
    const queue: Array<() => void> = [];
    const agent = new EchoAgent(options(), { schedule: (fn) => queue.push(fn) });
    const rec = record(agent);
    await agent.start();
    pushInFrames(agent, concat(tone(8000, 300), new Int16Array(8000)));
    expect(rec['user.speech.started']).toBeUndefined(); // deferred, like a provider's events
    while (queue.length > 0) queue.shift()!();
    expect(rec.order.filter((n) => n !== 'assistant.audio')).toEqual([
      'session.open',
      'user.speech.started',
      'user.speech.ended',
      'assistant.turn.end',
    ]);
    expect(joinAudio(rec['assistant.audio']!).length).toBe(2400);
    await agent.close();
  });
});
