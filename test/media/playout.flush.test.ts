import { describe, expect, it } from 'vitest';
import { PlayoutStream } from '../../src/media/playout.js';
import { RecordingSink, frame } from './playout.support.js';

function setup() {
  const sink = new RecordingSink();
  const stream = new PlayoutStream({ sink, frameSamples: 160, initialSequence: 0, initialTimestamp: 0 });
  const events: string[] = [];
  stream.on('itemStarted', (i) => events.push(`start ${i.itemId}`));
  stream.on('itemFinished', (i) => events.push(`finish ${i.itemId} ${i.sentMs} ${i.reason}`));
  stream.on('drained', () => events.push('drained'));
  let tickIndex = 0;
  const tick = (n = 1): void => {
    for (let i = 0; i < n; i++) stream.tick(tickIndex++, 0);
  };
  const queue = (itemId: string, responseId: string, frames: number, tag = 0): void => {
    for (let i = 0; i < frames; i++) stream.enqueue(frame(tag), itemId, responseId);
  };
  return { sink, stream, tick, queue, events };
}

describe('PlayoutStream.flush', () => {
  it('returns the exact ms sent and dropped per item, in playout order', () => {
    const { stream, tick, queue } = setup();
    queue('A', 'r1', 5);
    queue('B', 'r1', 5);
    queue('C', 'r2', 5);
    tick(7);
    expect(stream.currentItem).toEqual({ itemId: 'B', responseId: 'r1', sentMs: 40 });
    expect(stream.queuedMs).toBe(160);
    const result = stream.flush();
    expect(result).toEqual({
      items: [
        { itemId: 'A', responseId: 'r1', sentMs: 100, droppedMs: 0 },
        { itemId: 'B', responseId: 'r1', sentMs: 40, droppedMs: 60 },
        { itemId: 'C', responseId: 'r2', sentMs: 0, droppedMs: 100 },
      ],
      droppedFrames: 8,
    });
    expect(stream.queuedMs).toBe(0);
    expect(stream.sentMs('A')).toBe(100);
    expect(stream.sentMs('B')).toBe(40);
    expect(stream.sentMs('C')).toBe(0);
    expect(stream.stats().flushedFrames).toBe(8);
    // The heard item stays readable after the flush (barge-in may read it either side).
    expect(stream.currentItem).toEqual({ itemId: 'B', responseId: 'r1', sentMs: 40 });
  });

  it('starts a new talkspurt after a flush while timestamps keep following the clock', () => {
    const { sink, stream, tick, queue } = setup();
    queue('A', 'r1', 3, 1);
    tick(2);
    stream.flush();
    queue('B', 'r2', 2, 2); // the next reply arrives before the next tick: no silent period in between
    tick(2);
    expect(sink.packets.map((p) => [p.sequence, p.timestamp, p.marker, p.tag])).toEqual([
      [0, 0, true, 1],
      [1, 160, false, 1],
      [2, 320, true, 2],
      [3, 480, false, 2],
    ]);
  });

  it('reports only the current run: items enqueued since the queue was last empty or flushed', () => {
    const { stream, tick, queue } = setup();
    queue('A', 'r1', 2);
    tick(3); // A played out, queue drained
    queue('B', 'r2', 3);
    tick(1);
    expect(stream.flush().items).toEqual([{ itemId: 'B', responseId: 'r2', sentMs: 20, droppedMs: 40 }]);
    expect(stream.flush()).toEqual({ items: [], droppedFrames: 0 });
  });

  it('lists an item that resumes after an underrun with its cumulative sentMs', () => {
    const { stream, tick, queue } = setup();
    queue('A', 'r1', 2);
    tick(4);
    queue('A', 'r1', 2);
    tick(1);
    expect(stream.flush().items).toEqual([{ itemId: 'A', responseId: 'r1', sentMs: 60, droppedMs: 20 }]);
  });

  it('remembers sentMs of the recent items only', () => {
    const { stream, tick, queue } = setup();
    for (let i = 0; i < 40; i++) {
      queue(`item${i}`, 'r1', 1);
      tick(1);
    }
    expect(stream.sentMs('item39')).toBe(20);
    expect(stream.sentMs('item30')).toBe(20);
    expect(stream.sentMs('item0')).toBe(0); // forgotten: only the last 16 items are kept
    expect(stream.sentMs('never')).toBe(0);
  });

  it('emits item events for recording', () => {
    const { stream, tick, queue, events } = setup();
    queue('A', 'r1', 2);
    queue('B', 'r1', 3);
    tick(3);
    stream.flush();
    queue('B', 'r1', 1);
    tick(2);
    expect(events).toEqual([
      'start A',
      'finish A 40 completed',
      'start B',
      'finish B 20 flushed',
      'drained',
      'start B',
      'drained',
    ]);
  });
});

describe('PlayoutStream.blockResponse / discardResponse', () => {
  it('drops queued and late frames of a cancelled response and counts them', () => {
    const { sink, stream, tick, queue } = setup();
    queue('A', 'r1', 3, 1);
    tick(1);
    stream.flush();
    stream.blockResponse('r1');
    queue('A', 'r1', 4, 1); // late deltas of the cancelled reply
    queue('X', 'r2', 2, 2);
    tick(5);
    expect(sink.packets.map((p) => p.tag)).toEqual([1, 2, 2]);
    expect(stream.stats().blockedFrames).toBe(4);
    expect(stream.isBlocked('r1')).toBe(true);
    expect(stream.sentMs('A')).toBe(20);
  });

  it('discards one response and keeps the others in order', () => {
    const { sink, stream, tick, queue, events } = setup();
    queue('A', 'r1', 2, 1);
    queue('B', 'r2', 2, 2);
    queue('C', 'r1', 2, 3);
    queue('D', 'r3', 1, 4);
    tick(1);
    expect(stream.discardResponse('r1')).toBe(3);
    expect(stream.queuedMs).toBe(60);
    tick(4);
    expect(sink.packets.map((p) => [p.tag, p.marker])).toEqual([
      [1, true],
      [2, true],
      [2, false],
      [4, false],
    ]);
    expect(events.slice(0, 3)).toEqual(['start A', 'finish A 20 discarded', 'start B']);
    expect(stream.stats().discardedFrames).toBe(3);
  });

  it('blocking the last queued response drains the queue', async () => {
    const { stream, queue } = setup();
    queue('A', 'r1', 3);
    const drained = stream.whenDrained();
    stream.blockResponse('r1');
    await expect(drained).resolves.toBeUndefined();
  });
});

describe('PlayoutStream drain', () => {
  it('whenDrained resolves at once when empty, else after the last frame is sent', async () => {
    const { stream, tick, queue } = setup();
    await expect(stream.whenDrained()).resolves.toBeUndefined();
    queue('A', 'r1', 3);
    let done = false;
    const p = stream.whenDrained().then(() => {
      done = true;
    });
    tick(2);
    await Promise.resolve();
    expect(done).toBe(false);
    tick(1);
    await p;
    expect(done).toBe(true);
  });

  it('whenDrained resolves on flush, and onDrained fires each time until unsubscribed', async () => {
    const { stream, tick, queue } = setup();
    let calls = 0;
    const off = stream.onDrained(() => calls++);
    queue('A', 'r1', 2);
    const p = stream.whenDrained();
    stream.flush();
    await p;
    queue('A', 'r1', 1);
    tick(2);
    expect(calls).toBe(2);
    off();
    queue('A', 'r1', 1);
    tick(1);
    expect(calls).toBe(2);
  });
});
