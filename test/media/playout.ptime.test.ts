/**
 * Packets of any ptime on the shared 20 ms ticker (issue 10: a=ptime:30 used to throw inside playout).
 * Deadlines are checked in media time: the tick a packet leaves on against its ideal time k × ptime.
 */
import { describe, expect, it } from 'vitest';
import { FrameClock } from '../../src/media/frame-clock.js';
import { MAX_QUEUED_AUDIO_MS, PlayoutStream } from '../../src/media/playout.js';
import { RecordingSink, frame } from './playout.support.js';

const TICK_MS = 20;

/** Runs `ticks` ticks from `first` and returns, per slot, the tick it left on. */
function schedule(ptimeMs: number, ticks: number, first = 0): number[] {
  const clock = new FrameClock(ptimeMs, TICK_MS);
  const sentOnTick: number[] = [];
  for (let n = first; n < first + ticks; n++) {
    clock.advance(n);
    for (let slot = clock.start; slot < clock.end; slot++) sentOnTick[slot] = n - first;
  }
  return sentOnTick;
}

describe('FrameClock', () => {
  it.each([10, 20, 30, 40, 50, 60])(
    'sends every %i ms slot once, in order, within half a tick of its ideal time',
    (ptimeMs) => {
      const ticks = 3000; // one minute
      const sent = schedule(ptimeMs, ticks, 12_345);
      const slots = Math.floor(((ticks - 1) * TICK_MS + TICK_MS / 2) / ptimeMs) + 1;
      expect(sent).toHaveLength(slots);
      let worstMs = 0;
      for (let k = 0; k < sent.length; k++) {
        const errorMs = (sent[k] ?? Number.NaN) * TICK_MS - k * ptimeMs;
        expect(errorMs).toBeGreaterThanOrEqual(-TICK_MS / 2);
        expect(errorMs).toBeLessThan(TICK_MS / 2);
        worstMs = Math.max(worstMs, Math.abs(errorMs));
      }
      // Half a packet for every ptime the shared clock can honour that way (10 ms: two per tick).
      if (ptimeMs >= TICK_MS) expect(worstMs).toBeLessThanOrEqual(ptimeMs / 2);
      if (ptimeMs % TICK_MS === 0) expect(worstMs).toBe(0);
    },
  );

  it('sends 30 ms packets 1, 1, 0 per tick and 10 ms packets two per tick', () => {
    const perTick = (ptimeMs: number): number[] => {
      const clock = new FrameClock(ptimeMs, TICK_MS);
      return Array.from({ length: 6 }, (_, n) => clock.advance(n));
    };
    expect(perTick(30)).toEqual([1, 1, 0, 1, 1, 0]);
    expect(perTick(10)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(perTick(40)).toEqual([1, 0, 1, 0, 1, 0]);
  });

  it('passes over the slots of skipped ticks and plays none for a repeated index', () => {
    const clock = new FrameClock(30, TICK_MS);
    clock.advance(0);
    clock.advance(1); // slots 0, 1
    expect(clock.advance(1)).toBe(0);
    // Ticks 2..9 skipped: their slots (up to 6, ideal 180 ms) are gone; tick 10 (200 ms) plays slot 7 (210 ms).
    expect(clock.advance(10)).toBe(1);
    expect([clock.start, clock.end]).toEqual([7, 8]);
  });
});

describe('PlayoutStream at any ptime', () => {
  it.each([
    [10, 80],
    [30, 240],
    [50, 400],
    [60, 480],
  ])('%i ms: timestamps step by exactly %i, one packet per frame, sentMs exact', (ptimeMs, step) => {
    const sink = new RecordingSink();
    const stream = new PlayoutStream({
      sink,
      frameSamples: step,
      ptimeMs,
      initialSequence: 65_530,
      initialTimestamp: 0xffff_ff00,
    });
    const frames = 50;
    for (let i = 0; i < frames; i++) stream.enqueue(frame(i), 'a', 'r1');
    let tick = 0;
    while (sink.packets.length < 20) stream.tick(tick++, 0);
    // Barge-in after 20 packets: exactly 20 frames heard, the rest dropped.
    const flushed = stream.flush();
    expect(flushed.items).toEqual([
      { itemId: 'a', responseId: 'r1', sentMs: 20 * ptimeMs, droppedMs: (frames - 20) * ptimeMs },
    ]);
    const p = sink.packets;
    for (let i = 1; i < p.length; i++) {
      expect((p[i]!.timestamp - p[i - 1]!.timestamp) >>> 0).toBe(step);
      expect((p[i]!.sequence - p[i - 1]!.sequence) & 0xffff).toBe(1);
      expect(p[i]!.tag).toBe(i);
    }
    expect(p[0]!.marker).toBe(true);
    expect(p.slice(1).some((x) => x.marker)).toBe(false);
  });

  it('keeps the media clock across silence at 30 ms (timestamps of unsent slots consumed)', () => {
    const sink = new RecordingSink();
    const stream = new PlayoutStream({ sink, frameSamples: 240, ptimeMs: 30, initialTimestamp: 0 });
    stream.enqueue(frame(1), 'a', 'r1');
    for (let n = 0; n < 30; n++) stream.tick(n, 0); // 600 ms: slots 0..19 (the 20th is due on tick 30)
    stream.enqueue(frame(2), 'b', 'r2');
    stream.tick(30, 0); // slot 20 (ideal 600 ms)
    expect(sink.packets.map((x) => [x.timestamp, x.marker])).toEqual([
      [0, true],
      [20 * 240, true],
    ]);
  });
});

describe('PlayoutStream queue cap (issue 11)', () => {
  it('refuses frames beyond maxQueuedMs, counts them and reports the overflow once', () => {
    const stream = new PlayoutStream({ sink: new RecordingSink(), frameSamples: 160, maxQueuedMs: 1000 });
    const overflows: unknown[] = [];
    stream.on('overflow', (e) => overflows.push(e));
    let accepted = 0;
    for (let i = 0; i < 120; i++) if (stream.enqueue(frame(i), 'a', 'r1')) accepted++;
    expect(accepted).toBe(50);
    expect(stream.queuedMs).toBe(1000);
    expect(stream.roomFrames).toBe(0);
    expect(stream.stats().overflowFrames).toBe(70);
    expect(overflows).toEqual([{ queuedMs: 1000, maxQueuedMs: 1000 }]);
    // Room again once frames are sent.
    stream.tick(0, 0);
    expect(stream.enqueue(frame(0), 'a', 'r1')).toBe(true);
  });

  it('defaults to a minute of audio per call', () => {
    expect(MAX_QUEUED_AUDIO_MS).toBe(60_000);
    const stream = new PlayoutStream({ sink: new RecordingSink(), frameSamples: 240, ptimeMs: 30 });
    expect(stream.roomFrames).toBe(2000);
  });
});
