/** DeepgramReplies: which reply Deepgram's id-less binary audio frames belong to (recorded order [D2]). */
import { describe, expect, it } from 'vitest';
import { DeepgramReplies } from '../../../../src/agent/providers/deepgram/replies.js';

function replies(): DeepgramReplies {
  let n = 0;
  return new DeepgramReplies(() => String(++n));
}

describe('DeepgramReplies', () => {
  it('ConversationText sentences and AgentStartedSpeaking open one reply; AgentAudioDone closes it', () => {
    const r = replies();
    const a = r.open();
    expect(r.open()).toBe(a); // a second sentence, then AgentStartedSpeaking
    expect(r.audio()).toBe(a);
    expect(r.done()).toBe(a);
    const b = r.open();
    expect(b.responseId).not.toBe(a.responseId);
  });

  it('audio with no reply open (an injected agent message) opens one', () => {
    const r = replies();
    const a = r.audio();
    expect(a).toBeDefined();
    expect(r.done()).toBe(a);
    expect(r.done()).toBeUndefined();
  });

  it('after a cut, late audio is dropped until the next reply opens or AgentAudioDone', () => {
    const r = replies();
    const a = r.open();
    expect(r.cut()).toBe(a);
    expect(r.audio()).toBeUndefined();
    expect(r.audio()).toBeUndefined();
    const b = r.open();
    expect(r.audio()).toBe(b);
    r.cut();
    expect(r.done()).toBeUndefined();
    expect(r.audio()).toBeDefined();
  });

  it('a cut with nothing playing changes nothing; abandon forgets the reply and the dropping', () => {
    const r = replies();
    expect(r.cut()).toBeUndefined();
    expect(r.audio()).toBeDefined();
    const a = r.active;
    r.cut();
    expect(r.abandon()).toBeUndefined();
    expect(r.audio()).not.toBe(a);
  });
});
