/** GeminiTurns without sockets: synthesised ids, barge-in dropping, turn-end statuses. */
import { describe, expect, it } from 'vitest';
import { GeminiTurns } from '../../../../src/agent/providers/gemini/turns.js';

function recorder(): { turns: GeminiTurns; log: string[] } {
  const log: string[] = [];
  const turns = new GeminiTurns({
    audio: (a, id) => log.push(`audio ${id} ${a.length}`),
    text: (t, id, final) => log.push(`text ${id} ${final ? 'final' : 'delta'} ${t}`),
    turnEnd: (id, status) => log.push(`end ${id} ${status}`),
  });
  return { turns, log };
}

describe('GeminiTurns', () => {
  it('gives each model turn its own id and a final transcript at turn end', () => {
    const { turns, log } = recorder();
    turns.audio(Buffer.alloc(4));
    turns.text('Hi');
    turns.complete();
    turns.audio(Buffer.alloc(2));
    turns.complete();
    expect(log).toEqual([
      'audio gemini-turn-1 4',
      'text gemini-turn-1 delta Hi',
      'text gemini-turn-1 final Hi',
      'end gemini-turn-1 completed',
      'audio gemini-turn-2 2',
      'end gemini-turn-2 completed',
    ]);
  });

  it('drops the rest of an interrupted turn and reports it cancelled', () => {
    const { turns, log } = recorder();
    turns.audio(Buffer.alloc(4));
    expect(turns.interrupt()).toBe(true);
    expect(turns.interrupt()).toBe(false);
    turns.audio(Buffer.alloc(4));
    turns.text('late');
    turns.complete();
    turns.audio(Buffer.alloc(6));
    expect(log).toEqual(['audio gemini-turn-1 4', 'end gemini-turn-1 cancelled', 'audio gemini-turn-2 6']);
  });

  it('an interrupt with no turn in progress cuts nothing; a lost connection ends the turn incomplete', () => {
    const { turns, log } = recorder();
    expect(turns.interrupt()).toBe(false);
    turns.audio(Buffer.alloc(2));
    turns.abandon();
    turns.abandon();
    expect(log).toEqual(['audio gemini-turn-1 2', 'end gemini-turn-1 incomplete']);
  });
});
