/** Conformance, barge-in as each protocol allows: the provider's own VAD, and a local interrupt. */
import { describe, expect, it } from 'vitest';
import { bytesPerMs, conformanceTargets, nextEvent, pushAudio, replyPcm, useConformance } from './harness.js';

describe.each(conformanceTargets)('conformance: $slug — barge-in', (target) => {
  const c = useConformance(target);

  it('caller speech mid-reply → user.speech.started, and no audio of that reply follows it', async () => {
    const { mock, agent } = await c.setup({ greeting: 'Tell a long story.' });
    mock.enqueueTurn({ replyAudioPcm16: replyPcm(mock, 20_000) });
    const first = nextEvent(agent, 'assistant.audio');
    await agent.greet();
    const [{ responseId }] = await first;
    const outMs = bytesPerMs(target.outputFormat);
    let replyBytes = 0;
    let afterSpeech = 0;
    let speaking = false;
    agent.on('assistant.audio', (e) => {
      if (e.responseId !== responseId) return;
      replyBytes += e.audio.length;
      if (speaking) afterSpeech += e.audio.length;
    });
    const started = nextEvent(agent, 'user.speech.started').then(() => (speaking = true));
    pushAudio(agent, target.inputFormat, 600, true);
    await started;
    await new Promise((r) => setTimeout(r, 200));
    const settled = replyBytes;
    await new Promise((r) => setTimeout(r, 200));
    // Tolerance 200 ms: the chunks (100–200 ms each in these mocks) already on the wire when the provider's
    // VAD fired; the call layer's interrupt() drops them by response id. After that the provider has stopped.
    expect(afterSpeech).toBeLessThanOrEqual(200 * outMs);
    expect(replyBytes).toBe(settled);
    // The mocks stream faster than real time, but 20 s of reply takes longer than this case.
    expect(replyBytes).toBeLessThan(20_000 * outMs);
  });

  it('local interrupt mid-reply cancels and drops late audio of the cancelled response', async () => {
    const { mock, agent } = await c.setup({ greeting: 'Tell a long story.' });
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
});
