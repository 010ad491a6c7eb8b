/** Conformance, failures: a recoverable provider error, a dropped socket that reconnects, one that cannot. */
import { describe, expect, it } from 'vitest';
import { conformanceTargets, nextEvent, replyPcm, useConformance } from './harness.js';

describe.each(conformanceTargets)('conformance: $slug — resilience', (target) => {
  const c = useConformance(target);

  it('a recoverable provider error keeps the session usable', async () => {
    const { mock, agent } = await c.setup();
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
    const { mock, agent } = await c.setup();
    await mock.waitForMessage(target.setupMessage);
    const setups = () => mock.received.filter((m) => m.type === target.setupMessage).length;
    const before = setups();
    mock.dropConnection();
    await mock.waitForMessage(target.setupMessage, () => setups() > before, 15_000);
    expect(c.errors.filter((e) => e.fatal)).toEqual([]);
    mock.enqueueTurn({ replyAudioPcm16: replyPcm(mock, 200) });
    const audio = nextEvent(agent, 'assistant.audio');
    await agent.sendText('Are you still there?');
    await audio;
  });

  it('a dropped connection that cannot reconnect is a fatal error', async () => {
    const { mock, agent } = await c.setup();
    const fatal = nextEvent(agent, 'error', (e) => e.fatal, 30_000);
    mock.refuseConnections(true);
    mock.dropConnection();
    const [e] = await fatal;
    expect(e.fatal).toBe(true);
  });
});
