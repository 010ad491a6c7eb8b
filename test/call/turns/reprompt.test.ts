import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Reprompter } from '../../../src/call/turns/reprompt.js';

function make(quiet: () => boolean = () => true) {
  const sent: number[] = [];
  const r = new Reprompter({
    afterMs: 2000,
    max: 2,
    text: 'note',
    now: () => Date.now(),
    quiet,
    send: () => sent.push(Date.now()),
    onReprompt: () => undefined,
  });
  return { r, sent };
}

describe('Reprompter', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('sends a note after each 2 s of silence, at most twice, until the caller speaks', async () => {
    const { r, sent } = make();
    r.start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent).toEqual([2000, 4000]);
    r.callerSpoke();
    await vi.advanceTimersByTimeAsync(3000);
    expect(sent).toEqual([2000, 4000, 12_000]);
    expect(r.reprompts).toBe(3);
    r.stop();
  });

  it('counts agent audio, playout and tools as activity', async () => {
    let quiet = false;
    const { r, sent } = make(() => quiet);
    r.start();
    await vi.advanceTimersByTimeAsync(5000);
    expect(sent).toEqual([]);
    quiet = true;
    await vi.advanceTimersByTimeAsync(1500);
    r.activity();
    await vi.advanceTimersByTimeAsync(1900);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(sent).toHaveLength(1);
    r.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent).toHaveLength(1);
  });
});
