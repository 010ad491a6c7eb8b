import { describe, expect, it } from 'vitest';
import { AssistantAudioTracker } from '../../../../src/agent/providers/openai/audio-tracker.js';
import {
  ResponseSequencer,
  type ResponseParams,
} from '../../../../src/agent/providers/openai/response-sequencer.js';

describe('ResponseSequencer', () => {
  function make() {
    const sent: (ResponseParams | undefined)[] = [];
    return { seq: new ResponseSequencer((p) => sent.push(p)), sent };
  }

  it('sends at once when idle, queues while a create is in flight or a response is active', () => {
    const { seq, sent } = make();
    seq.request({ instructions: 'greet' });
    seq.request();
    expect(sent).toEqual([{ instructions: 'greet' }]);
    seq.onCreated('r1');
    seq.request();
    expect(sent).toHaveLength(1);
    seq.onDone('r1');
    expect(sent).toHaveLength(2);
    seq.onCreated('r2');
    seq.onDone('r2');
    expect(sent).toHaveLength(3);
    expect(seq.queued).toBe(0);
  });

  it('a collision with a server-VAD response retries the same create after that response', () => {
    const { seq, sent } = make();
    seq.request({ instructions: 'x' });
    seq.onCreated('server'); // the server's own response won the race
    seq.onCollision(); // our create was refused
    expect(sent).toHaveLength(1);
    seq.onDone('server');
    expect(sent).toEqual([{ instructions: 'x' }, { instructions: 'x' }]);
  });

  it('a server-initiated response blocks creates until done; reset forgets everything', () => {
    const { seq, sent } = make();
    seq.onCreated('auto');
    seq.request();
    expect(sent).toHaveLength(0);
    seq.reset();
    expect(seq.activeResponseId).toBeUndefined();
    seq.request();
    expect(sent).toHaveLength(1);
  });
});

describe('AssistantAudioTracker', () => {
  it('counts received ms per item and truncates at floor(min(played, received))', () => {
    const t = new AssistantAudioTracker(8);
    t.accept('r1', 'i1', 800);
    t.accept('r1', 'i1', 801);
    expect(t.receivedMs('i1')).toBeCloseTo(200.125);
    expect(t.currentItemId).toBe('i1');
    expect(t.truncatePoint('i1', 150.9, true)).toEqual({ audioEndMs: 150 });
    // Once per item.
    expect(t.truncatePoint('i1', 150.9, true)).toBeUndefined();
  });

  it('clamps to received and skips a fully played finished item', () => {
    const t = new AssistantAudioTracker(48);
    t.accept('r1', 'i1', 4800);
    t.accept('r2', 'i2', 4800);
    expect(t.truncatePoint('i1', 500, false)).toBeUndefined();
    expect(t.truncatePoint('i2', 500, true)).toEqual({ audioEndMs: 100 });
    expect(t.truncatePoint('nope', 5, true)).toBeUndefined();
  });

  it('drops late deltas of a discarded response by id', () => {
    const t = new AssistantAudioTracker(8);
    t.drop('r1');
    expect(t.accept('r1', 'i1', 160)).toBe(false);
    expect(t.accept('r2', 'i2', 160)).toBe(true);
    t.reset();
    expect(t.isDropped('r1')).toBe(false);
  });
});

describe('ToolCallTracker', () => {
  it('dedupes by call_id, parses JSON-string arguments, and asks for one response after the last result', async () => {
    const { ToolCallTracker } = await import('../../../../src/agent/providers/openai/tool-calls.js');
    const t = new ToolCallTracker();
    expect(t.announce('c1', 'a', '{"id":"42"}')).toEqual({ callId: 'c1', name: 'a', args: { id: '42' } });
    expect(t.announce('c1', 'a', '{"id":"42"}')).toBeUndefined();
    expect(t.announce('c2', 'b', 'not json')).toMatchObject({ args: {}, argsError: 'not-json' });
    expect(t.announce('c3', 'b', '[1]')).toMatchObject({ args: {}, argsError: 'not-object' });
    expect(t.resolve('c1')).toBe(false);
    expect(t.resolve('c2')).toBe(false);
    expect(t.resolve('c3')).toBe(true);
    expect(t.knows('c1')).toBe(true);
    t.reset();
    expect(t.knows('c1')).toBe(false);
  });
});
