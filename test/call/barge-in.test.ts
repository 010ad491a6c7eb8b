import { describe, expect, it } from 'vitest';
import { BargeInController, type PlayoutControl } from '../../src/call/barge-in.js';

/** A recording fake of the playout queue: frames of 20 ms per item, some sent, some queued. */
class FakePlayout implements PlayoutControl {
  sent = new Map<string, { responseId: string; sentMs: number }>();
  queue: Array<{ itemId: string; responseId: string }> = [];
  blocked: string[] = [];
  last: string | undefined;
  flushes = 0;
  enqueue(itemId: string, responseId: string, frames: number): void {
    if (this.blocked.includes(responseId)) return;
    for (let i = 0; i < frames; i++) this.queue.push({ itemId, responseId });
  }
  tick(n = 1): void {
    for (let i = 0; i < n; i++) {
      const f = this.queue.shift();
      if (f === undefined) return;
      const s = this.sent.get(f.itemId) ?? { responseId: f.responseId, sentMs: 0 };
      s.sentMs += 20;
      this.sent.set(f.itemId, s);
      this.last = f.itemId;
    }
  }
  flush() {
    this.flushes++;
    this.queue = [];
    return { items: [...this.sent].map(([itemId, s]) => ({ itemId, ...s })) };
  }
  get currentItem() {
    if (this.last === undefined) return undefined;
    const s = this.sent.get(this.last)!;
    return { itemId: this.last, responseId: s.responseId, sentMs: s.sentMs };
  }
  blockResponse(id: string): void {
    this.blocked.push(id);
    this.queue = this.queue.filter((f) => f.responseId !== id);
  }
  get queuedMs(): number {
    return this.queue.length * 20;
  }
}

function setup(enabled = true) {
  const playout = new FakePlayout();
  const interrupts: Array<{ playedMs: number; itemId?: string }> = [];
  const ctl = new BargeInController({ enabled, playout, interrupt: (h) => interrupts.push(h) });
  return { playout, interrupts, ctl };
}

describe('BargeInController', () => {
  it('flushes, reports the ms actually sent of the playing item, and drops late audio of that response', () => {
    const { playout, interrupts, ctl } = setup();
    expect(ctl.acceptAudio('r1')).toBe(true);
    playout.enqueue('i1', 'r1', 100);
    playout.tick(37);
    const d = ctl.userSpeechStarted();
    expect(d).toMatchObject({
      action: 'interrupted',
      itemId: 'i1',
      responseId: 'r1',
      playedMs: 740,
      flushedMs: 63 * 20,
    });
    expect(interrupts).toEqual([{ playedMs: 740, itemId: 'i1' }]);
    expect(playout.queuedMs).toBe(0);
    // A late delta of the cancelled response is refused.
    expect(ctl.acceptAudio('r1')).toBe(false);
    // The next response plays normally.
    expect(ctl.acceptAudio('r2')).toBe(true);
    expect(ctl.bargeIns).toBe(1);
  });

  it('interrupts a response whose audio has not reached RTP yet with playedMs 0', () => {
    const { playout, interrupts, ctl } = setup();
    ctl.acceptAudio('r1');
    playout.enqueue('i1', 'r1', 5);
    playout.tick(5);
    ctl.turnEnded('r1');
    ctl.acceptAudio('r2');
    playout.enqueue('i2', 'r2', 10);
    const d = ctl.userSpeechStarted();
    expect(d.action).toBe('interrupted');
    expect(interrupts).toEqual([{ playedMs: 0 }]);
    expect(ctl.acceptAudio('r2')).toBe(false);
  });

  it('does nothing when nothing is playing or queued', () => {
    const { playout, interrupts, ctl } = setup();
    ctl.acceptAudio('r1');
    playout.enqueue('i1', 'r1', 3);
    playout.tick(3);
    ctl.turnEnded('r1');
    expect(ctl.userSpeechStarted()).toEqual({ action: 'nothing-playing' });
    expect(interrupts).toEqual([]);
    expect(playout.flushes).toBe(0);
  });

  it('keeps the queue when barge-in is disabled', () => {
    const { playout, interrupts, ctl } = setup(false);
    ctl.acceptAudio('r1');
    playout.enqueue('i1', 'r1', 10);
    expect(ctl.userSpeechStarted()).toEqual({ action: 'ignored-disabled' });
    expect(playout.queuedMs).toBe(200);
    expect(interrupts).toEqual([]);
  });

  it('interrupts queued audio even after the turn ended', () => {
    const { playout, interrupts, ctl } = setup();
    ctl.acceptAudio('r1');
    playout.enqueue('i1', 'r1', 50);
    playout.tick(10);
    ctl.turnEnded('r1');
    expect(ctl.userSpeechStarted()).toMatchObject({ action: 'interrupted', playedMs: 200, itemId: 'i1' });
    expect(interrupts).toEqual([{ playedMs: 200, itemId: 'i1' }]);
    expect(ctl.acceptAudio('r1')).toBe(false);
  });
});
