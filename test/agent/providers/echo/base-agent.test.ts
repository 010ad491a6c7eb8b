// BaseAgent is exercised through the echo agent; these cases cover what echo never does.
import { describe, expect, it } from 'vitest';
import type { AgentOptions } from '../../../../src/agent/agent.js';
import { BaseAgent } from '../../../../src/agent/base-agent.js';
import type { AgentErrorEvent } from '../../../../src/agent/events.js';
import { captureLogger } from '../../transport/helpers.js';

class TestAgent extends BaseAgent {
  teardowns = 0;
  constructor(
    options: AgentOptions,
    private readonly failTeardown = false,
  ) {
    super('test', options);
  }
  async start(): Promise<void> {
    this.assertOpen();
  }
  greet = this.start;
  pushAudio(): void {
    this.assertOpen();
  }
  interrupt = this.start;
  sendToolResult = this.start;
  sendText = this.start;
  updateInstructions = this.start;
  fail(e: AgentErrorEvent): void {
    this.emitError(e);
  }
  end(reason: string): Promise<void> {
    return this.closeWith(reason);
  }
  protected override async doClose(): Promise<void> {
    this.teardowns++;
    if (this.failTeardown) throw new Error('socket already gone');
  }
}

const error: AgentErrorEvent = {
  code: 'AGENT_PROVIDER_ERROR',
  message: 'boom',
  fatal: false,
  retryable: true,
};

function options(): { options: AgentOptions; lines: string[] } {
  const { logger, lines } = captureLogger();
  return {
    options: {
      inputFormat: { encoding: 'pcmu', sampleRateHz: 8000 },
      outputFormat: { encoding: 'pcmu', sampleRateHz: 8000 },
      logger,
    },
    lines,
  };
}

describe('BaseAgent', () => {
  it('emitError without a listener logs instead of throwing; with one it emits', () => {
    const { options: o, lines } = options();
    const agent = new TestAgent(o);
    expect(() => agent.fail(error)).not.toThrow();
    expect(lines.some((l) => l.includes('"provider":"test"') && l.includes('AGENT_PROVIDER_ERROR'))).toBe(
      true,
    );
    const seen: AgentErrorEvent[] = [];
    agent.on('error', (e) => seen.push(e));
    agent.fail(error);
    expect(seen).toEqual([error]);
  });

  it('closeWith runs doClose once, first reason wins, a failing teardown still closes', async () => {
    const agent = new TestAgent(options().options, true);
    const reasons: string[] = [];
    agent.on('session.close', ({ reason }) => reasons.push(reason));
    await Promise.all([agent.end('connection lost'), agent.close(), agent.end('other')]);
    expect(agent.teardowns).toBe(1);
    expect(reasons).toEqual(['connection lost']);
    expect(agent.isClosed).toBe(true);
    expect(() => agent.pushAudio()).toThrow(/closed/);
    await expect(agent.start()).rejects.toMatchObject({ code: 'AGENT_CLOSED' });
  });
});
