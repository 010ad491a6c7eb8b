import { describe, expect, it } from 'vitest';
import { ConversationLog, continuationPrompt } from '../../src/call/conversation-log.js';

describe('conversation log (context for a replacement session)', () => {
  it('keeps final turns in order, merges a speaker’s consecutive texts, and marks the cut-off reply', () => {
    const log = new ConversationLog();
    log.agent('Hello, how can I help?', true, 'r1');
    log.caller('mock partial', false);
    log.caller('I want to change my plan.', true);
    log.agent('Sure. The plans ', false, 'r2');
    log.agent('are basic and ', false, 'r2');
    expect(log.cut()).toBe('Sure. The plans are basic and');
    expect(log.cut()).toBeUndefined();
    expect(log.transcript()).toBe(
      'You: Hello, how can I help?\nCaller: I want to change my plan.\nYou: Sure. The plans are basic and …',
    );
  });

  it('a final transcript replaces the deltas of its reply; a new reply closes the previous partial', () => {
    const log = new ConversationLog();
    log.agent('One ', false, 'r1');
    log.agent('One two.', true, 'r1');
    log.agent('Three ', false, 'r2');
    log.agent('Four ', false, 'r3');
    expect(log.cut()).toBe('Four');
    expect(log.transcript()).toBe('You: One two. Three Four …');
  });

  it('stays bounded: the newest lines are kept', () => {
    const log = new ConversationLog();
    for (let i = 0; i < 200; i++) {
      log.caller(`question ${i} ${'x'.repeat(50)}`, true);
      log.agent(`answer ${i} ${'y'.repeat(50)}`, true, `r${i}`);
    }
    const t = log.transcript();
    expect(t.length).toBeLessThanOrEqual(2000);
    expect(t).toContain('answer 199');
    expect(t).not.toContain('question 0 ');
  });

  it('the continuation prompt says what happened, what was said and where it broke off', () => {
    const text = continuationPrompt('Caller: hi', 'The plans are');
    expect(text).toContain('connection dropped');
    expect(text).toContain('Conversation so far:\nCaller: hi');
    expect(text).toContain('You were cut off while saying: "The plans are"');
    expect(continuationPrompt('', undefined)).not.toContain('Conversation so far');
  });
});
