/** Conformance, tool round trip: the model calls a function, the result goes back, the model continues. */
import { describe, expect, it } from 'vitest';
import { conformanceTargets, nextEvent, replyPcm, useConformance } from './harness.js';

describe.each(conformanceTargets)('conformance: $slug — tools', (target) => {
  const c = useConformance(target);

  it('tool call → result → the model continues', async () => {
    const { mock, agent } = await c.setup({ greeting: 'Look up order 42.' });
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
});
