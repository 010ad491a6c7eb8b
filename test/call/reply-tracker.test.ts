import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReplyTracker, TOOL_AUDIO_GRACE_MS } from '../../src/call/reply-tracker.js';

/** A playout whose drain the test controls. */
class FakePlayout {
  queued = false;
  #waiting: (() => void) | undefined;
  readonly whenDrained = (): Promise<void> =>
    this.queued ? new Promise<void>((r) => (this.#waiting = r)) : Promise.resolve();
  drain(): void {
    this.queued = false;
    this.#waiting?.();
  }
}

describe('ReplyTracker', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const make = (playout: { whenDrained: () => Promise<void> }, timeouts: string[] = []): ReplyTracker =>
    new ReplyTracker({
      whenDrained: playout.whenDrained,
      now: () => Date.now(),
      onTimeout: () => timeouts.push('t'),
    });

  it('waits for the turn to end and the queue to drain', async () => {
    const playout = new FakePlayout();
    const t = make(playout);
    t.audio('r1');
    playout.queued = true;
    let done = false;
    void t.waitForReplyPlayed(10_000).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(1000);
    expect(done).toBe(false);
    t.turnEnded('r1');
    await vi.advanceTimersByTimeAsync(10);
    expect(done).toBe(false);
    playout.drain();
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
  });

  it('a tool call before its audio waits for that audio, then for its end', async () => {
    const playout = new FakePlayout();
    const t = make(playout);
    t.toolCall();
    let done = false;
    void t.waitForReplyPlayed(10_000).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(100);
    t.audio('r2');
    await vi.advanceTimersByTimeAsync(TOOL_AUDIO_GRACE_MS * 2);
    expect(done).toBe(false);
    t.turnEnded('r2');
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
  });

  it('a bare tool call (no audio, no turn end) costs only the grace', async () => {
    const timeouts: string[] = [];
    const t = make(new FakePlayout(), timeouts);
    t.toolCall();
    let done = false;
    void t.waitForReplyPlayed(10_000).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(TOOL_AUDIO_GRACE_MS - 1);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    expect(timeouts).toEqual([]);
  });

  it('gives up at maxWaitMs and when the call ends', async () => {
    const timeouts: string[] = [];
    const t = make(new FakePlayout(), timeouts);
    t.audio('r3');
    let done = false;
    void t.waitForReplyPlayed(2000).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(2000);
    expect(done).toBe(true);
    expect(timeouts).toEqual(['t']);

    let done2 = false;
    void t.waitForReplyPlayed(60_000).then(() => (done2 = true));
    t.end();
    await vi.advanceTimersByTimeAsync(0);
    expect(done2).toBe(true);
  });
});
