/**
 * The OpenAI adapter with AgentOptions.interruptions (issue 14) against the mock: what turn_detection says,
 * who cancels, and how the call layer's verdict on an utterance (userTurn) maps onto the protocol.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { harness, nextEvent, PCMU, pushAudio, sleep, tone, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  const violations = h?.mock.violations.slice() ?? [];
  await h?.close();
  h = undefined;
  expect(violations).toEqual([]);
});

const turnDetection = (h: Harness): Record<string, unknown> =>
  h.sent('session.update')[0].session.audio.input.turn_detection;

describe('OpenAI adapter: interruptions option', () => {
  it('provider (the default): the server answers and interrupts by itself', async () => {
    h = await harness();
    expect(turnDetection(h)).toMatchObject({ create_response: true, interrupt_response: true });
  });

  it('off: interrupt_response false, the server still answers; caller speech never cancels the reply', async () => {
    h = await harness({ agent: { interruptions: 'off', greeting: 'Tell a story.' } });
    expect(turnDetection(h)).toMatchObject({ create_response: true, interrupt_response: false });
    h.mock.enqueueTurn({ replyAudioPcm16: tone(24000, 3000, 8000, 300), replyText: 'A story.' });
    const done = nextEvent(h.agent, 'assistant.turn.end');
    await h.agent.greet();
    pushAudio(h.agent, PCMU, 400, true);
    expect((await done).status).toBe('completed');
    expect(h.mock.serverCancelled).toEqual([]);
  });

  it('server: neither flag; a confirmed barge-in sends response.cancel + truncate, a real turn is answered by userTurn', async () => {
    h = await harness({ agent: { interruptions: 'server', greeting: 'Tell a story.' } });
    expect(turnDetection(h)).toMatchObject({ create_response: false, interrupt_response: false });
    h.mock.enqueueTurn({ replyAudioPcm16: tone(24000, 20_000, 8000, 300), replyText: 'A long story.' });
    const first = nextEvent(h.agent, 'assistant.audio');
    await h.agent.greet();
    const { itemId, responseId } = await first;
    const started = nextEvent(h.agent, 'user.speech.started');
    pushAudio(h.agent, PCMU, 600, true);
    await started;
    // The server did not cancel by itself: the reply keeps streaming until the client says so.
    await sleep(100);
    expect(h.mock.serverCancelled).toEqual([]);
    const cancelled = nextEvent(h.agent, 'assistant.turn.end', (e) => e.responseId === responseId);
    await h.agent.interrupt({ playedMs: 120, itemId });
    expect((await cancelled).status).toBe('cancelled');
    expect(h.sent('response.cancel')).toEqual([expect.objectContaining({ response_id: responseId })]);
    expect(h.mock.truncations).toEqual([{ itemId, audioEndMs: 120 }]);
    // The caller's turn ends: no response by the server (create_response false) until userTurn says so.
    const ended = nextEvent(h.agent, 'user.speech.ended');
    pushAudio(h.agent, PCMU, 400, false);
    await ended;
    await sleep(100);
    expect(h.sent('response.create')).toHaveLength(1);
    h.mock.enqueueTurn({ replyAudioPcm16: tone(24000, 200, 8000, 300), replyText: 'Yes?' });
    const answer = nextEvent(h.agent, 'assistant.turn.end', (e) => e.responseId !== responseId);
    await h.agent.userTurn?.({ respond: true });
    expect((await answer).status).toBe('completed');
    expect(h.sent('response.create')).toHaveLength(2);
  });

  it('server: a false interruption (respond false) deletes the utterance and nothing answers it', async () => {
    h = await harness({ agent: { interruptions: 'server' } });
    const ended = nextEvent(h.agent, 'user.speech.ended');
    pushAudio(h.agent, PCMU, 300, true);
    pushAudio(h.agent, PCMU, 400, false);
    const { itemId } = await ended;
    await h.agent.userTurn?.({ respond: false });
    await h.mock.waitForMessage('conversation.item.delete');
    await sleep(100);
    expect(h.mock.deletedItems).toEqual([{ itemId, role: 'user' }]);
    expect(h.sent('response.create')).toEqual([]);
  });
});
