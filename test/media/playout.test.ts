import { describe, expect, it } from 'vitest';
import { PlayoutStream, type PlayoutStreamOptions } from '../../src/media/playout.js';
import { Ticker } from '../../src/media/ticker.js';
import { FakeClock, RecordingSink, frame } from './playout.support.js';

function setup(options: Partial<PlayoutStreamOptions> = {}) {
  const sink = new RecordingSink();
  const stream = new PlayoutStream({
    sink,
    frameSamples: 160,
    initialSequence: 1000,
    initialTimestamp: 50_000,
    ...options,
  });
  let tickIndex = 0;
  const tick = (n = 1): void => {
    for (let i = 0; i < n; i++) stream.tick(tickIndex++, 0);
  };
  return { sink, stream, tick };
}

describe('PlayoutStream RTP clock', () => {
  it('advances the timestamp during silence but the sequence only per packet (RFC 3550 §5.1)', () => {
    const { sink, stream, tick } = setup();
    stream.enqueue(frame(1), 'a', 'r1');
    stream.enqueue(frame(2), 'a', 'r1');
    tick(2);
    tick(3); // 3 silent periods: nothing sent, no zero-fill
    expect(sink.packets).toHaveLength(2);
    stream.enqueue(frame(3), 'a', 'r1');
    tick();
    expect(sink.packets).toEqual([
      { sequence: 1000, timestamp: 50_000, marker: true, tag: 1 },
      { sequence: 1001, timestamp: 50_160, marker: false, tag: 2 },
      // New talkspurt after silence (RFC 3551 §4.1): marker, timestamp 5 frames on, sequence +1.
      { sequence: 1002, timestamp: 50_000 + 5 * 160, marker: true, tag: 3 },
    ]);
    expect(stream.stats().idleFrames).toBe(3);
  });

  it('wraps the 16-bit sequence and the 32-bit timestamp', () => {
    const { sink, stream, tick } = setup({ initialSequence: 0xfffe, initialTimestamp: 0x1_0000_0000 - 160 });
    for (let i = 0; i < 4; i++) stream.enqueue(frame(i), 'a', 'r1');
    tick(4);
    expect(sink.packets.map((p) => p.sequence)).toEqual([0xfffe, 0xffff, 0, 1]);
    expect(sink.packets.map((p) => p.timestamp)).toEqual([0x1_0000_0000 - 160, 0, 160, 320]);
  });

  it('wraps the timestamp across a long silence too', () => {
    const { sink, stream } = setup({ initialTimestamp: 0xffff_ff00, frameSamples: 960 });
    stream.enqueue(frame(1), 'a', 'r1');
    stream.tick(0, 0);
    stream.enqueue(frame(2), 'a', 'r1');
    stream.tick(100_000, 0);
    expect(sink.packets[1]!.timestamp).toBe((0xffff_ff00 + 100_000 * 960) % 0x1_0000_0000);
    expect(sink.packets[1]!.marker).toBe(true);
  });

  it('starts with random sequence and timestamp unless injected', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const sink = new RecordingSink();
      const s = new PlayoutStream({ sink, frameSamples: 160 });
      s.enqueue(frame(0), 'a', 'r');
      s.tick(0, 0);
      const p = sink.packets[0]!;
      expect(p.sequence).toBeGreaterThanOrEqual(0);
      expect(p.sequence).toBeLessThan(0x1_0000);
      expect(p.timestamp).toBeLessThan(0x1_0000_0000);
      seen.add(p.timestamp);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('advances over skipped tick indices and marks the gap', () => {
    const { sink, stream } = setup();
    for (let i = 0; i < 3; i++) stream.enqueue(frame(i), 'a', 'r1');
    stream.tick(10, 0);
    stream.tick(11, 0);
    stream.tick(15, 0); // ticks 12..14 skipped by the ticker
    expect(sink.packets.map((p) => [p.timestamp - 50_000, p.marker])).toEqual([
      [0, true],
      [160, false],
      [5 * 160, true],
    ]);
    stream.tick(15, 0); // a repeated index sends nothing
    expect(sink.packets).toHaveLength(3);
  });

  it('sends one frame every 2 ticks for a 40 ms ptime', () => {
    const { sink, stream, tick } = setup({ ptimeMs: 40, frameSamples: 320 });
    for (let i = 0; i < 3; i++) stream.enqueue(frame(i), 'a', 'r1');
    expect(stream.queuedMs).toBe(120);
    tick(6);
    expect(sink.packets.map((p) => p.timestamp - 50_000)).toEqual([0, 320, 640]);
    expect(stream.sentMs('a')).toBe(120);
  });

  it('rejects a frame size that is not a positive integer', () => {
    expect(() => new PlayoutStream({ sink: new RecordingSink(), frameSamples: 0 })).toThrow(RangeError);
    expect(() => new PlayoutStream({ sink: new RecordingSink(), frameSamples: 80.5 })).toThrow(RangeError);
  });

  it('fills underruns with the configured silence frame, keeping the stream continuous', () => {
    const silence = frame(0xee);
    const { sink, stream, tick } = setup({ silenceFrame: silence });
    stream.enqueue(frame(1), 'a', 'r1');
    tick(3);
    stream.enqueue(frame(2), 'a', 'r1');
    tick();
    expect(sink.packets.map((p) => [p.sequence - 1000, p.timestamp - 50_000, p.marker, p.tag])).toEqual([
      [0, 0, true, 1],
      [1, 160, false, 0xee],
      [2, 320, false, 0xee],
      [3, 480, false, 2],
    ]);
    expect(stream.stats().silenceFramesSent).toBe(2);
  });

  it('keeps frame order when the ring grows', () => {
    const { sink, stream, tick } = setup({ capacityFrames: 16 });
    tick(); // move the head off zero before growing
    for (let i = 0; i < 5; i++) stream.enqueue(frame(i), 'a', 'r1');
    tick(3);
    for (let i = 5; i < 100; i++) stream.enqueue(frame(i), 'a', 'r1');
    tick(100);
    expect(sink.packets.map((p) => p.tag)).toEqual([...Array(100).keys()]);
  });
});

describe('PlayoutStream on the shared Ticker', () => {
  it('sends the frames of a late wake back to back with continuous sequence and timestamps', () => {
    const clock = new FakeClock(0);
    const ticker = new Ticker({ now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
    const { sink, stream } = setup();
    for (let i = 0; i < 10; i++) stream.enqueue(frame(i), 'a', 'r1');
    ticker.add(stream);
    clock.advanceTo(40); // ticks 0..2 on time
    clock.jitterMs = () => 60; // the timer of tick 4 comes 3 periods late
    clock.advanceTo(60);
    clock.jitterMs = () => 0;
    clock.advanceTo(200);
    expect(sink.packets.map((p) => p.sequence - 1000)).toEqual([...Array(10).keys()]);
    expect(sink.packets.map((p) => p.timestamp - 50_000)).toEqual([...Array(10).keys()].map((i) => i * 160));
    expect(sink.packets.filter((p) => p.marker)).toHaveLength(1);
    expect(ticker.stats().catchUpTicks).toBe(3);
    ticker.remove(stream);
    expect(clock.pendingTimers).toBe(0);
  });
});
