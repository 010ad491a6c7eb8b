/**
 * CallOutcome with recording fakes and a fake clock (STYLE.md §13): the CDR and the transcript it builds from
 * a session's events — a replaced provider (both agents listed, usage and per-minute cost per agent),
 * a transfer from the timeline, the turn latency, caller turns on the provider's offsets and the agent's turn
 * timed by the frames sent — and the record handed to the history.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Agent } from '../../src/agent/agent.js';
import type { ObservedCall } from '../../src/call/call-ports.js';
import type { MediaLeg } from '../../src/call/media-leg.js';
import type { CallSession } from '../../src/call/session.js';
import { CallOutcome } from '../../src/outcomes/call-outcome.js';
import type { CallHistory, CallRecord } from '../../src/outcomes/index.js';
import type { AgentProfile } from '../../src/routing/dialplan.js';

function fakeAgent(provider: string): Agent {
  return Object.assign(new EventEmitter(), { provider }) as unknown as Agent;
}

describe('CallOutcome', () => {
  it('builds the CDR and transcript of a call whose provider was replaced and which was transferred', async () => {
    let now = 1_800_000_000_000;
    const answered = now;
    const media = Object.assign(new EventEmitter(), {
      ptimeMs: 20,
      stats: () => ({
        packetsReceived: 150,
        packetsSent: 20,
        lost: 1,
        late: 0,
        malformed: 0,
        foreignDropped: 0,
      }),
    }) as unknown as MediaLeg;
    const stored: CallRecord[] = [];
    const history = {
      put: (r: CallRecord) => Promise.resolve(void stored.push(r)),
    } as unknown as CallHistory;
    const call: ObservedCall = {
      id: 'call-1',
      tenant: 'acme',
      direction: 'inbound',
      from: '+15550001',
      to: '100',
      codec: 'PCMU',
      profile: { provider: 'openai', model: 'gpt-realtime', record: false } as AgentProfile,
      media,
      agentOutput: { encoding: 'pcmu', sampleRateHz: 8000 },
      invitedAtMs: answered - 700,
    };
    const outcome = new CallOutcome({
      call,
      route: 'acme.yaml',
      history,
      prices: {
        currency: 'USD',
        providers: { openai: { '*': { per_minute: 0.6 } }, gemini: { '*': { per_minute: 1.2 } } },
      },
      logger: pino({ level: 'silent' }),
      now: () => now,
    });
    const session = Object.assign(new EventEmitter(), { startedAt: new Date(answered) });
    outcome.session(session as unknown as CallSession);
    const a = fakeAgent('openai');
    outcome.agent(a);

    now = answered + 300;
    a.emit('user.speech.started', { audioStartMs: 100, itemId: 'u1' });
    now = answered + 1000;
    a.emit('user.speech.ended', { audioEndMs: 900, itemId: 'u1' });
    now = answered + 1100;
    a.emit('user.transcript', { text: 'hi there', final: false, itemId: 'u1' });
    a.emit('user.transcript', { text: 'hi there', final: true, itemId: 'u1' });
    now = answered + 1200;
    // 400 ms of PCMU (8 bytes per ms).
    a.emit('assistant.audio', { audio: Buffer.alloc(3200), itemId: 'i1', responseId: 'r1' });
    a.emit('assistant.text', { text: 'Hello, how can I help?', final: true, responseId: 'r1' });
    a.emit('assistant.turn.end', { responseId: 'r1', status: 'completed' });
    a.emit('usage', { inputTokens: 100, outputTokens: 50, inputAudioTokens: 80, outputAudioTokens: 40 });
    const frame = Buffer.alloc(160);
    for (let k = 0; k < 20; k++) {
      now = answered + 1220 + k * 20;
      media.emit('tick', undefined, frame);
    }
    now = answered + 1700;
    media.emit('tick', undefined, frame); // a frame of nothing we know (a prompt): not the agent's turn

    now = answered + 2000;
    const b = fakeAgent('gemini');
    outcome.agent(b);
    b.emit('usage', { inputTokens: 7, outputTokens: 3 });
    now = answered + 2500;
    outcome.event('transfer.start', { target: 'sales', method: 'refer' });
    outcome.event('transfer.result', { ok: true, callLeft: true, via: 'refer', status: 202, message: 'ok' });
    now = answered + 3000;
    session.emit('ended', { reason: 'transferred' });
    await new Promise((r) => setTimeout(r, 10));

    expect(stored).toHaveLength(1);
    const { cdr, transcript } = stored[0]!;
    expect(cdr).toMatchObject({
      id: 'call-1',
      route: 'acme.yaml',
      from: '+15550001',
      startedAt: new Date(answered - 700).toISOString(),
      answeredAt: new Date(answered).toISOString(),
      endedAt: new Date(answered + 3000).toISOString(),
      durationMs: 3000,
      endReason: 'transferred',
      provider: 'openai',
      model: 'gpt-realtime',
      agents: [
        { provider: 'openai', model: 'gpt-realtime', fromMs: 0 },
        { provider: 'gemini', model: 'gpt-realtime', fromMs: 2000 },
      ],
      transfers: [{ target: 'sales', method: 'refer', ok: true, via: 'refer', status: 202, atMs: 2500 }],
      turnLatenciesMs: [200],
      rtp: { packetsReceived: 150, packetsSent: 20, lost: 1, late: 0 },
      recorded: false,
    });
    expect(cdr.usage).toEqual([
      expect.objectContaining({ provider: 'openai', inputTokens: 100, outputAudioTokens: 40, reports: 1 }),
      expect.objectContaining({ provider: 'gemini', inputTokens: 7, inputAudioTokens: 0, reports: 1 }),
    ]);
    // openai had the call 2 s at 0.6/min, gemini 1 s at 1.2/min.
    expect(cdr.cost?.total).toBeCloseTo(0.02 + 0.02, 6);
    expect(transcript).toEqual([
      { role: 'caller', text: 'hi there', startMs: 100, endMs: 900 },
      { role: 'agent', text: 'Hello, how can I help?', startMs: 1220, endMs: 1620 },
    ]);
  });
});
