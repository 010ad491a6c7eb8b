import { afterEach, describe, expect, it } from 'vitest';
import { harness, nextEvent, pushAudio, PCMU, sleep, tone, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  const violations = h?.mock.violations.slice() ?? [];
  await h?.close();
  h = undefined;
  expect(violations).toEqual([]);
});

describe('OpenAI adapter: tool calls and response sequencing', () => {
  it('tool call → tool.call once (deduped by call_id) → result → one response.create → the model continues', async () => {
    h = await harness({ agent: { greeting: 'Look it up.' } });
    h.mock.enqueueTurn({
      replyAudioPcm16: new Int16Array(0),
      toolCall: { name: 'lookup_order', args: { id: '42' } },
    });
    h.mock.enqueueTurn({ replyAudioPcm16: tone(24000, 300), replyText: 'It shipped.' });
    const calls: { callId: string; name: string; args: Record<string, unknown> }[] = [];
    h.agent.on('tool.call', (c) => calls.push(c));
    const firstTurn = nextEvent(h.agent, 'assistant.turn.end');
    await h.agent.greet();
    await firstTurn;
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ name: 'lookup_order', args: { id: '42' } });
    const audio = nextEvent(h.agent, 'assistant.audio');
    const text = nextEvent(h.agent, 'assistant.text', (e) => e.final);
    await h.agent.sendToolResult(calls[0]!.callId, { status: 'shipped' });
    await audio;
    expect((await text).text).toBe('It shipped.');
    const output: any = await h.mock.waitForMessage(
      'conversation.item.create',
      (m: any) => m.item.type === 'function_call_output',
    );
    expect(output.item).toEqual({
      type: 'function_call_output',
      call_id: calls[0]!.callId,
      output: '{"status":"shipped"}',
    });
    expect(h.sent('response.create')).toHaveLength(2);
    expect(h.sent('response.create')[0].response).toEqual({ instructions: 'Look it up.' });
  });

  it('a result sent before response.done waits: response.create is never sent while a response is active', async () => {
    h = await harness({ agent: { greeting: 'Go.' } });
    h.mock.enqueueTurn({
      replyAudioPcm16: tone(24000, 1500),
      toolCall: { name: 'lookup_order', args: { id: '7' } },
    });
    h.mock.enqueueTurn({ replyAudioPcm16: tone(24000, 200) });
    const call = nextEvent(h.agent, 'tool.call');
    await h.agent.greet();
    const c = await call;
    // The function call came first; the reply audio is still streaming.
    await h.agent.sendToolResult(c.callId, 'done');
    await h.agent.sendText('And another thing.');
    const turns: string[] = [];
    h.agent.on('assistant.turn.end', (e) => turns.push(e.status));
    await nextEvent(h.agent, 'assistant.turn.end');
    await nextEvent(h.agent, 'assistant.turn.end');
    await sleep(50);
    // One create for the tool result and the text together (queued), sent only after response.done.
    expect(h.sent('response.create').length).toBeGreaterThanOrEqual(2);
    expect(h.mock.violations).toEqual([]);
  });

  it('sendText creates a user input_text item and asks for a response', async () => {
    h = await harness();
    const audio = nextEvent(h.agent, 'assistant.audio');
    await h.agent.sendText('The caller pressed 5.');
    await audio;
    const item: any = await h.mock.waitForMessage('conversation.item.create');
    expect(item.item).toEqual({
      type: 'message',
      role: 'user',
      content: [{ type: 'input_text', text: 'The caller pressed 5.' }],
    });
  });

  it('sendText during a server-VAD response waits for its response.done, without an error event', async () => {
    h = await harness();
    h.mock.enqueueTurn({ replyAudioPcm16: tone(24000, 800) });
    h.mock.enqueueTurn({ replyAudioPcm16: tone(24000, 200) });
    const serverTurn = nextEvent(h.agent, 'assistant.audio');
    pushAudio(h.agent, PCMU, 300, true);
    pushAudio(h.agent, PCMU, 600, false);
    await serverTurn;
    await h.agent.sendText('note');
    const ends: string[] = [];
    h.agent.on('assistant.turn.end', (e) => ends.push(e.responseId));
    await nextEvent(h.agent, 'assistant.turn.end');
    await nextEvent(h.agent, 'assistant.turn.end');
    expect(new Set(ends).size).toBe(2);
    expect(h.errors).toEqual([]);
  });
});
