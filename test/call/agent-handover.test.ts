/**
 * The handover's rules with recording fakes and a fake clock (agent-handover.ts): failover order and the
 * bridge clip, tool results that outlive the session that asked for them, and when a rotation may switch.
 * End to end: test/e2e/failover.test.ts and test/e2e/rotation.test.ts.
 */
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Agent, AgentEvents } from '../../src/agent/agent.js';
import { AgentHandover, type HandoverHost } from '../../src/call/agent-handover.js';
import type { AgentRequest } from '../../src/call/session-types.js';
import { createLogger } from '../../src/observability/logger.js';
import { agentProfileSchema } from '../../src/routing/dialplan.js';

class FakeAgent extends EventEmitter<AgentEvents> {
  readonly texts: string[] = [];
  readonly results: string[] = [];
  closed = false;
  constructor(readonly provider: string) {
    super();
  }
  sendText(text: string): Promise<void> {
    this.texts.push(text);
    return Promise.resolve();
  }
  sendToolResult(callId: string): Promise<void> {
    this.results.push(callId);
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function setup(profile: Record<string, unknown>, dead: readonly string[] = []) {
  let current: FakeAgent | undefined = new FakeAgent(String(profile.provider));
  const requests: AgentRequest[] = [];
  const timeline: Array<[string, Record<string, unknown>]> = [];
  const state = { busy: false, bridgePlayed: 0, version: 0 };
  const make = (r: AgentRequest): FakeAgent | undefined => {
    requests.push(r);
    const provider = r.target?.provider ?? String(profile.provider);
    return dead.includes(provider) ? undefined : new FakeAgent(provider);
  };
  const host: HandoverHost = {
    now: () => Date.now(),
    agent: () => current as unknown as Agent | undefined,
    history: () => [{ role: 'user', text: `turn ${state.version}` }],
    historyVersion: () => state.version,
    dropCurrent: async () => {
      const old = current;
      current = undefined;
      await old?.close();
      return old?.provider;
    },
    attach: (r) => {
      const a = make(r);
      if (a !== undefined) current = a;
      return Promise.resolve(a !== undefined);
    },
    startBeside: (r) => Promise.resolve(make(r) as unknown as Agent | undefined),
    adopt: (a) => (current = a as unknown as FakeAgent),
    failedOver: () => undefined,
    busy: () => state.busy,
    playBridge: () => {
      state.bridgePlayed++;
      return Promise.resolve();
    },
    timeline: (kind, data) => timeline.push([kind, data]),
  };
  const quiet = createLogger({ level: 'silent' });
  const handover = new AgentHandover(agentProfileSchema.parse(profile), quiet, host);
  return { handover, requests, timeline, state, current: () => current };
}

describe('agent handover', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('failover: targets in order with the history, a dead one skipped, the bridge clip once', async () => {
    const t = setup(
      {
        provider: 'openai',
        failover: [{ provider: 'qwen-omni' }, { provider: 'gemini', voice: 'Kore' }],
        failover_bridge_audio: 'prompts/one-moment.wav',
      },
      ['qwen-omni'],
    );
    expect(await t.handover.failover('provider-failed', Date.now())).toBe(true);
    expect(t.requests.map((r) => r.target)).toEqual([
      { provider: 'qwen-omni' },
      { provider: 'gemini', voice: 'Kore' },
    ]);
    expect(t.requests[1]!.history).toEqual([{ role: 'user', text: 'turn 0' }]);
    expect(t.current()?.provider).toBe('gemini');
    expect(t.state.bridgePlayed).toBe(1);
    expect(t.timeline.map(([k]) => k)).toEqual(['agent.failover.failed', 'agent.failover']);
    expect(t.timeline[1]![1]).toMatchObject({ from: 'openai', to: 'gemini' });
    expect(t.handover.summary().providers).toEqual(['openai', 'gemini']);
    // Nothing left: the supervisor's fallback runs.
    expect(t.handover.targetsLeft).toBe(false);
    expect(await t.handover.failover('provider-failed', Date.now())).toBe(false);
  });

  it('a tool result for a call the previous session made reaches the new one as a note', async () => {
    const t = setup({ provider: 'openai', failover: [{ provider: 'gemini' }] });
    const first = t.current()!;
    t.handover.watch(first as unknown as Agent, () => t.current() === first);
    first.emit('tool.call', { callId: 'call_1', name: 'lookup_order', args: {} });
    await t.handover.failover('provider-failed', Date.now());
    const second = t.current()!;
    t.handover.watch(second as unknown as Agent, () => t.current() === second);
    second.emit('tool.call', { callId: 'g_2', name: 'lookup_order', args: {} });
    await t.handover.toolResult('call_1', { status: 'shipped' });
    await t.handover.toolResult('g_2', { status: 'paid' });
    expect(second.texts).toEqual([
      'The lookup_order tool you called before the line moved returned: {"status":"shipped"}',
    ]);
    expect(second.results).toEqual(['g_2']);
  });

  it('rotation: due 5 s before a 15 s cap, waits for a quiet moment between turns', async () => {
    const t = setup({ provider: 'openai', limits: { session_max_s: 15 } });
    const first = t.current()!;
    t.handover.sessionStarted();
    t.state.busy = true;
    await vi.advanceTimersByTimeAsync(12_000);
    expect(t.requests).toHaveLength(0);
    // The caller speaks: still not.
    t.state.busy = false;
    t.handover.callerSpeech(true);
    await vi.advanceTimersByTimeAsync(500);
    expect(t.requests).toHaveLength(0);
    t.handover.callerSpeech(false);
    // A reply is pending after the caller spoke: wait for its turn end.
    await vi.advanceTimersByTimeAsync(500);
    expect(t.requests).toHaveLength(0);
    t.handover.replyEnded();
    await vi.advanceTimersByTimeAsync(150);
    expect(t.requests).toHaveLength(1);
    expect(t.current()).not.toBe(first);
    expect(first.closed).toBe(true);
    expect(t.handover.summary().rotations).toBe(1);
    expect(t.timeline[0]).toEqual([
      'agent.rotate',
      expect.objectContaining({ reason: 'session-cap', turns: 1 }),
    ]);
  });
});
