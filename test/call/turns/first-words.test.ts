import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FirstWords } from '../../../src/call/turns/first-words.js';

describe('FirstWords', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('resolves on the end of the first words, or after the silence', async () => {
    const a = new FirstWords();
    const got = a.wait(1000);
    await vi.advanceTimersByTimeAsync(300);
    a.started();
    a.ended();
    expect(await got).toBe('words');
    expect(Date.now()).toBe(300);

    const b = new FirstWords();
    const silent = b.wait(1000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await silent).toBe('silence');
  });

  it('lets words under way at the deadline finish', async () => {
    const w = new FirstWords();
    let how: string | undefined;
    void w.wait(1000).then((h) => (how = h));
    await vi.advanceTimersByTimeAsync(800);
    w.started();
    await vi.advanceTimersByTimeAsync(1500);
    expect(how).toBeUndefined();
    w.ended();
    await vi.advanceTimersByTimeAsync(0);
    expect(how).toBe('words');
  });
});
