import { afterEach, describe, expect, it } from 'vitest';
import { harness, nextEvent, PCM24, PCMU, pushAudio, sleep, tone, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  const violations = h?.mock.violations.slice() ?? [];
  await h?.close();
  h = undefined;
  expect(violations).toEqual([]);
});

/** Starts a long greeting reply and resolves once `minMs` of it has been received. */
async function replyInProgress(h: Harness, minMs: number, bytesPerMs: number) {
  h.mock.enqueueTurn({
    replyAudioPcm16: tone(24000, 20_000, 8000, 300),
    replyText: 'A very long story indeed.',
  });
  const received = new Map<string, number>();
  h.agent.on('assistant.audio', (e) =>
    received.set(e.itemId, (received.get(e.itemId) ?? 0) + e.audio.length),
  );
  const enough = nextEvent(
    h.agent,
    'assistant.audio',
    (e) => (received.get(e.itemId) ?? 0) >= minMs * bytesPerMs,
  );
  await h.agent.greet();
  const first = await enough;
  return {
    itemId: first.itemId,
    responseId: first.responseId,
    receivedMs: () => (received.get(first.itemId) ?? 0) / bytesPerMs,
  };
}

describe('OpenAI adapter: barge-in', () => {
  it('server VAD barge-in: no response.cancel (the server cancelled), truncate at floor(min(played, received))', async () => {
    h = await harness({ agent: { greeting: 'Tell a story.' } });
    const reply = await replyInProgress(h, 300, 8);
    let lateAudio = 0;
    let truncateAt = -1;
    const interrupted = new Promise<void>((resolve, reject) => {
      h!.agent.once('user.speech.started', () => {
        // What the call layer does: flush playout, then tell the agent what was heard.
        truncateAt = Math.floor(Math.min(250.7, reply.receivedMs()));
        h!.agent.on('assistant.audio', (e) => {
          if (e.responseId === reply.responseId) lateAudio++;
        });
        h!.agent.interrupt({ playedMs: 250.7, itemId: reply.itemId }).then(resolve, reject);
      });
    });
    const turnEnd = nextEvent(h.agent, 'assistant.turn.end', (e) => e.responseId === reply.responseId);
    pushAudio(h.agent, PCMU, 400, true);
    await interrupted;
    expect((await turnEnd).status).toBe('cancelled');
    const truncate: any = await h.mock.waitForMessage('conversation.item.truncate');
    expect(truncate).toMatchObject({ item_id: reply.itemId, content_index: 0, audio_end_ms: truncateAt });
    expect(truncateAt).toBe(250);
    await h.mock.waitForMessage('conversation.item.truncate');
    await sleep(100);
    expect(h.mock.serverCancelled).toEqual([reply.responseId]);
    expect(h.sent('response.cancel')).toEqual([]);
    expect(h.mock.redundantCancels).toBe(0);
    expect(lateAudio).toBe(0);
    expect(h.errors).toEqual([]);
  });

  it('local barge-in: response.cancel + truncate clamped to the audio received; late deltas dropped by response id', async () => {
    h = await harness({
      agent: { greeting: 'Tell a story.', inputFormat: PCM24, outputFormat: PCM24 },
      mock: { lateChunksAfterCancel: 3 },
    });
    const reply = await replyInProgress(h, 200, 48);
    let lateAudio = 0;
    h.agent.on('assistant.audio', (e) => {
      if (e.responseId === reply.responseId) lateAudio++;
    });
    const receivedMs = reply.receivedMs();
    const turnEnd = nextEvent(h.agent, 'assistant.turn.end');
    // Played more than received (e.g. clock skew): the truncate must be clamped to what was received.
    await h.agent.interrupt({ playedMs: 1_000_000 });
    expect((await turnEnd).status).toBe('cancelled');
    const cancel: any = await h.mock.waitForMessage('response.cancel');
    expect(cancel.response_id).toBe(reply.responseId);
    const truncate: any = await h.mock.waitForMessage('conversation.item.truncate');
    expect(truncate.audio_end_ms).toBe(Math.floor(receivedMs));
    await h.mock.waitForMessage('conversation.item.truncate');
    // The mock kept streaming for a while after the cancel: those deltas reached the adapter but not the listener.
    const lateOnWire = h.tap.filter(
      (t) =>
        t.direction === 'in' &&
        t.message.type === 'response.output_audio.delta' &&
        t.message.response_id === reply.responseId,
    );
    expect(lateOnWire.length).toBeGreaterThan(Math.floor(receivedMs / 100));
    expect(lateAudio).toBe(0);
    expect(h.mock.truncations).toEqual([{ itemId: reply.itemId, audioEndMs: Math.floor(receivedMs) }]);
    expect(h.errors).toEqual([]);
  });

  it('no truncate and no cancel when nothing was interrupted (reply finished and fully played)', async () => {
    h = await harness({ agent: { greeting: 'Hi.' } });
    h.mock.enqueueTurn({ replyAudioPcm16: tone(24000, 300) });
    const done = nextEvent(h.agent, 'assistant.turn.end');
    await h.agent.greet();
    await done;
    await h.agent.interrupt({ playedMs: 300 });
    await sleep(100);
    expect(h.sent('response.cancel')).toEqual([]);
    expect(h.sent('conversation.item.truncate')).toEqual([]);
  });

  it('a reply that finished streaming but is still playing is truncated without a cancel', async () => {
    h = await harness({ agent: { greeting: 'Hi.' } });
    h.mock.enqueueTurn({ replyAudioPcm16: tone(24000, 500) });
    const audio = nextEvent(h.agent, 'assistant.audio');
    const done = nextEvent(h.agent, 'assistant.turn.end');
    await h.agent.greet();
    const { itemId } = await audio;
    await done;
    await h.agent.interrupt({ playedMs: 120.9, itemId });
    const truncate: any = await h.mock.waitForMessage('conversation.item.truncate');
    expect(truncate.audio_end_ms).toBe(120);
    expect(h.sent('response.cancel')).toEqual([]);
  });
});
