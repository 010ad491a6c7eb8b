import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallPlayout } from '../../../src/call/media-leg.js';
import { ToolFiller } from '../../../src/call/turns/filler.js';

/** A playout queue that sends one frame per 20 ms of fake time, with response blocking. */
class FakePlayout {
  readonly frames: Array<{ itemId: string; responseId: string }> = [];
  readonly sent: string[] = [];
  readonly blocked = new Set<string>();
  #waiters: Array<() => void> = [];
  readonly #timer = setInterval(() => this.#tick(), 20);
  roomFrames = 500;
  get queuedMs(): number {
    return this.frames.length * 20;
  }
  enqueue(_f: Buffer, itemId: string, responseId: string): boolean {
    if (this.blocked.has(responseId)) return false;
    this.frames.push({ itemId, responseId });
    return true;
  }
  blockResponse(responseId: string): void {
    this.blocked.add(responseId);
    for (let i = this.frames.length - 1; i >= 0; i--)
      if (this.frames[i]!.responseId === responseId) this.frames.splice(i, 1);
    if (this.frames.length === 0) this.#drained();
  }
  whenDrained(): Promise<void> {
    if (this.frames.length === 0) return Promise.resolve();
    return new Promise((r) => this.#waiters.push(r));
  }
  close(): void {
    clearInterval(this.#timer);
  }
  #tick(): void {
    const f = this.frames.shift();
    if (f === undefined) return;
    this.sent.push(f.itemId);
    if (this.frames.length === 0) this.#drained();
  }
  #drained(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const r of w) r();
  }
}

const clip = (n: number): Buffer[] => Array.from({ length: n }, () => Buffer.alloc(160));

function make(o: { clip?: string | undefined; hold?: string; frames?: (p: string) => Buffer[] } = {}) {
  const playout = new FakePlayout();
  const played: string[] = [];
  const stops: string[] = [];
  const frames = vi.fn(o.frames ?? ((p: string) => clip(p === 'hold.wav' ? 10 : 25)));
  const filler = new ToolFiller({
    afterMs: 500,
    clip: 'clip' in o ? o.clip : 'filler.wav',
    hold: o.hold,
    tools: new Set(['lookup']),
    playout: playout as unknown as CallPlayout,
    frames,
    onPlay: (kind) => played.push(kind),
    onStop: (why) => stops.push(why),
  });
  return { playout, filler, played, stops, frames };
}

describe('ToolFiller', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('queues the filler at filler_after_ms, then loops hold audio until the reply', async () => {
    const { playout, filler, played, stops } = make({ hold: 'hold.wav' });
    filler.toolStarted('lookup');
    await vi.advanceTimersByTimeAsync(499);
    expect(played).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(played).toEqual(['filler']);
    // The 500 ms filler plays out, then hold clips of 200 ms follow one another.
    await vi.advanceTimersByTimeAsync(1500);
    expect(played.slice(0, 2)).toEqual(['filler', 'hold']);
    expect(played.length).toBeGreaterThanOrEqual(5);
    filler.toolFinished();
    filler.agentAudio();
    expect(stops).toEqual(['reply']);
    expect(playout.frames).toEqual([]);
    const count = played.length;
    await vi.advanceTimersByTimeAsync(2000);
    expect(played.length).toBe(count);
    expect(filler.played).toBe(count);
    playout.close();
  });

  it('does nothing for a tool that returns in time, or for call-control tools', async () => {
    const { playout, filler, played } = make();
    filler.toolStarted('lookup');
    await vi.advanceTimersByTimeAsync(300);
    filler.toolFinished();
    filler.toolStarted('end_call');
    await vi.advanceTimersByTimeAsync(2000);
    expect(played).toEqual([]);
    filler.agentAudio(); // no clip queued: nothing to stop
    playout.close();
  });

  it('stops looping when the hold response is blocked (a barge-in) or the clip cannot be read', async () => {
    const a = make({ clip: undefined, hold: 'hold.wav' });
    a.filler.toolStarted('lookup');
    await vi.advanceTimersByTimeAsync(500);
    expect(a.played).toEqual(['hold']);
    a.playout.blockResponse(a.playout.frames[0]!.responseId);
    await vi.advanceTimersByTimeAsync(1000);
    expect(a.played).toEqual(['hold']);
    a.playout.close();

    const b = make({ hold: 'hold.wav', frames: () => [] });
    b.filler.toolStarted('lookup');
    await vi.advanceTimersByTimeAsync(3000);
    expect(b.played).toEqual([]);
    expect(b.frames.mock.calls.length).toBeLessThanOrEqual(2);
    b.playout.close();
  });

  it('knows its own playout items', () => {
    expect(ToolFiller.owns('filler-1-hold-3')).toBe(true);
    expect(ToolFiller.owns('item_abc')).toBe(false);
    expect(ToolFiller.owns(undefined)).toBe(false);
  });
});
