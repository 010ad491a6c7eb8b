import { describe, expect, it } from 'vitest';
import { PlayoutStream } from '../../src/media/playout.js';
import { RecordingSink, frame } from './playout.support.js';

function setup(silenceFrame?: Buffer) {
  const sink = new RecordingSink();
  const stream = new PlayoutStream({
    sink,
    frameSamples: 160,
    initialSequence: 0,
    initialTimestamp: 0,
    ...(silenceFrame === undefined ? {} : { silenceFrame }),
  });
  let tickIndex = 0;
  const tick = (n = 1): void => {
    for (let i = 0; i < n; i++) stream.tick(tickIndex++, 0);
  };
  // Frames tagged 1, 2, 3 … in playout order, so a skipped or repeated frame shows in the tags.
  const queue = (itemId: string, responseId: string, frames: number, firstTag = 1): void => {
    for (let i = 0; i < frames; i++) stream.enqueue(frame(firstTag + i), itemId, responseId);
  };
  return { sink, stream, tick, queue };
}

describe('PlayoutStream.pause / resume (issue 14)', () => {
  it('resumes with the very frame that was next: nothing skipped, nothing repeated', () => {
    const { sink, stream, tick, queue } = setup();
    queue('A', 'r1', 10);
    tick(3);
    stream.pause();
    expect(stream.paused).toBe(true);
    tick(5);
    // Nothing of the item is sent while paused, and it stays queued.
    expect(sink.packets.map((p) => p.tag)).toEqual([1, 2, 3]);
    expect(stream.queuedMs).toBe(140);
    expect(stream.currentItem).toEqual({ itemId: 'A', responseId: 'r1', sentMs: 60 });
    stream.resume();
    tick(7);
    expect(sink.packets.map((p) => p.tag)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(stream.sentMs('A')).toBe(200);
    expect(stream.stats().pausedFrames).toBe(5);
  });

  it('keeps the RTP clock running while paused and marks the resumed audio as a new talkspurt', () => {
    const { sink, stream, tick, queue } = setup();
    queue('A', 'r1', 4);
    tick(2);
    stream.pause();
    tick(3);
    stream.resume();
    tick(2);
    expect(sink.packets.map((p) => [p.sequence, p.timestamp, p.marker, p.tag])).toEqual([
      [0, 0, true, 1],
      [1, 160, false, 2],
      // 3 periods paused: the timestamp advanced by 3 frames, the sequence by none (RFC 3550 §5.1).
      [2, 800, true, 3],
      [3, 960, false, 4],
    ]);
  });

  it('sends the comfort-silence frame while paused when one is configured', () => {
    const silence = frame(0xee);
    const { sink, stream, tick, queue } = setup(silence);
    queue('A', 'r1', 3);
    tick(1);
    stream.pause();
    tick(2);
    stream.resume();
    tick(2);
    expect(sink.packets.map((p) => p.tag)).toEqual([1, 0xee, 0xee, 2, 3]);
    expect(stream.currentItem?.sentMs).toBe(60);
  });

  it('a flush while paused reports what was heard and lets the next reply play', () => {
    const { sink, stream, tick, queue } = setup();
    queue('A', 'r1', 10);
    tick(4);
    stream.pause();
    tick(10);
    const result = stream.flush();
    expect(result.items).toEqual([{ itemId: 'A', responseId: 'r1', sentMs: 80, droppedMs: 120 }]);
    expect(stream.paused).toBe(false);
    queue('B', 'r2', 2, 50);
    tick(2);
    expect(sink.packets.map((p) => p.tag)).toEqual([1, 2, 3, 4, 50, 51]);
  });

  it('does not report drained while paused with audio queued', async () => {
    const { stream, tick, queue } = setup();
    queue('A', 'r1', 2);
    stream.pause();
    let drained = false;
    void stream.whenDrained().then(() => (drained = true));
    tick(5);
    await Promise.resolve();
    expect(drained).toBe(false);
    stream.resume();
    tick(2);
    await Promise.resolve();
    expect(drained).toBe(true);
  });
});
