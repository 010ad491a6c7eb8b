/**
 * The agent supervisor's recovery rules with recording fakes and a fake clock (the dead-air watchdog polls
 * every 50 ms): what counts as a stall, when the same agent is asked to continue and when it is replaced, and
 * when the fallback takes over. The end-to-end behaviour is in test/e2e/provider-loss.test.ts.
 */
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Agent, AgentEvents } from '../../src/agent/agent.js';
import { AgentSupervisor } from '../../src/call/agent-supervisor.js';
import { createCallMetrics } from '../../src/call/call-metrics.js';
import type { MediaLeg } from '../../src/call/media-leg.js';
import type { EndReason } from '../../src/call/session-types.js';
import { createLogger } from '../../src/observability/logger.js';
import { agentProfileSchema } from '../../src/routing/dialplan.js';

class FakeAgent extends EventEmitter<AgentEvents> {
  readonly provider = 'fake';
  readonly texts: string[] = [];
  closed = false;
  constructor(readonly failStart = false) {
    super();
  }
  start(): Promise<void> {
    return this.failStart ? Promise.reject(new Error('refused')) : Promise.resolve();
  }
  greet = (): Promise<void> => Promise.resolve();
  pushAudio(): void {}
  interrupt = (): Promise<void> => Promise.resolve();
  sendToolResult = (): Promise<void> => Promise.resolve();
  sendText(text: string): Promise<void> {
    this.texts.push(text);
    return Promise.resolve();
  }
  updateInstructions = (): Promise<void> => Promise.resolve();
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.emit('session.close', { reason: 'closed' });
    }
    return Promise.resolve();
  }
}

function setup(opts: { failReplacement?: boolean } = {}) {
  const agents: FakeAgent[] = [];
  const ends: EndReason[] = [];
  const prompts: string[] = [];
  const playout = { queuedMs: 0 };
  let audible = true;
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const sup = new AgentSupervisor(
    {
      profile: agentProfileSchema.parse({ provider: 'fake', limits: { provider_stall_ms: 2000 } }),
      logger: createLogger({ level: 'silent', destination: quiet }),
      metrics: createCallMetrics(new Registry()),
      media: { playout } as unknown as MediaLeg,
      createAgent: () => {
        const a = new FakeAgent(opts.failReplacement === true && agents.length > 0);
        agents.push(a);
        return Promise.resolve(a as unknown as Agent);
      },
      playPrompt: (path) => {
        prompts.push(path);
        return Promise.resolve();
      },
      defaultFallbackPrompt: 'prompts/unavailable.wav',
    },
    {
      now: () => Date.now(),
      wire: () => undefined,
      audible: () => audible,
      ended: () => ends.length > 0,
      abandonReply: () => undefined,
      transfer: () => Promise.resolve({ ok: false, callLeft: false, message: 'no' }),
      end: (reason) => {
        ends.push(reason);
        return Promise.resolve();
      },
      timeline: () => undefined,
    },
  );
  return { sup, agents, ends, prompts, playout, setAudible: (on: boolean) => (audible = on) };
}

/** Lets the supervisor's awaited closes and starts settle under fake timers. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe('agent supervisor', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a reply silent for the stall bound: the agent is replaced and asked to continue with the cut text', async () => {
    const t = setup();
    expect(await t.sup.attach()).toBe(true);
    t.sup.assistantText('Your options are ', false, 'r1');
    t.sup.audio('r1');
    t.playout.queuedMs = 400; // still playing: not dead air yet
    await vi.advanceTimersByTimeAsync(1000);
    t.playout.queuedMs = 0;
    await vi.advanceTimersByTimeAsync(1900);
    expect(t.agents).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    await settle();
    expect(t.agents).toHaveLength(2);
    expect(t.agents[0]!.closed).toBe(true);
    expect(t.agents[1]!.texts[0]).toContain('You were cut off while saying: "Your options are"');
    // The new session speaks: no fallback however long the call then lasts.
    t.sup.audio('r2');
    t.sup.turnEnded('r2', 'completed');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(t.ends).toEqual([]);
    await t.sup.close();
  });

  it('no stall while the session says the caller cannot hear us (hold, transfer, a tool call running)', async () => {
    const t = setup();
    await t.sup.attach();
    t.sup.audio('r1');
    t.setAudible(false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(t.agents).toHaveLength(1);
    t.setAudible(true); // the clock restarts now
    await vi.advanceTimersByTimeAsync(1900);
    expect(t.agents).toHaveLength(1);
    await t.sup.close();
  });

  it('a cut reply whose transport reconnected: the same agent continues, nothing is replaced', async () => {
    const t = setup();
    await t.sup.attach();
    t.sup.audio('r1');
    t.sup.turnEnded('r1', 'failed');
    t.sup.error({ code: 'AGENT_CONNECTION_LOST', message: 'reset', fatal: false, retryable: true });
    expect(t.agents[0]!.texts).toHaveLength(1);
    t.sup.audio('r2');
    t.sup.turnEnded('r2', 'completed');
    await vi.advanceTimersByTimeAsync(5000);
    expect(t.agents).toHaveLength(1);
    expect(t.ends).toEqual([]);
    await t.sup.close();
  });

  it('a replacement that cannot start: the fallback prompt, then agent-failed', async () => {
    const t = setup({ failReplacement: true });
    await t.sup.attach();
    t.sup.audio('r1');
    t.sup.error({ code: 'AGENT_CONNECTION_LOST', message: 'gone', fatal: true, retryable: false });
    await settle();
    expect(t.agents).toHaveLength(2);
    expect(t.prompts).toEqual(['prompts/unavailable.wav']);
    expect(t.ends).toEqual(['agent-failed']);
  });

  it('a replacement that starts but stays silent: fallback once the recovery budget is spent', async () => {
    const t = setup();
    await t.sup.attach();
    t.sup.audio('r1');
    t.sup.turnEnded('r1', 'incomplete');
    await vi.advanceTimersByTimeAsync(2050);
    await settle();
    expect(t.agents).toHaveLength(2);
    expect(t.ends).toEqual([]);
    await vi.advanceTimersByTimeAsync(700);
    await settle();
    expect(t.ends).toEqual(['agent-failed']);
    expect(t.agents[1]!.closed).toBe(true);
  });
});
