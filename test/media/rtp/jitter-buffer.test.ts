import { describe, expect, it } from 'vitest';
import {
  JitterBuffer,
  type JitterBufferOptions,
  type JitterPacket,
} from '../../../src/media/rtp/jitter-buffer.js';

const FRAME = 160;

/** A test harness: a fake clock and packets whose 2-byte payload is the sequence number. */
function harness(options: Partial<JitterBufferOptions> = {}) {
  let now = 0;
  const jb = new JitterBuffer({ frameSamples: FRAME, nowMs: () => now, ...options });
  const buf = Buffer.alloc(64);
  const push = (seq: number, ts = seq * FRAME, ssrc = 1, marker = false): string => {
    buf.writeUInt16BE(seq & 0xffff, 0);
    const p: JitterPacket = {
      buffer: buf,
      payloadOffset: 0,
      payloadLength: 2,
      sequence: seq & 0xffff,
      timestamp: ts >>> 0,
      ssrc,
      marker,
    };
    return jb.push(p);
  };
  /** Pops one frame: the sequence number it carried, or its kind. */
  const pop = (): number | string => {
    now += 20;
    const f = jb.pop();
    if (f.kind !== 'frame') return f.kind;
    return f.payload.readUInt16BE(0);
  };
  const advance = (ms: number): void => {
    now += ms;
  };
  return { jb, push, pop, advance };
}

/** Pushes then pops in lockstep, one packet per tick; returns what was played. */
function drainFrames(h: ReturnType<typeof harness>, n: number): (number | string)[] {
  const out: (number | string)[] = [];
  for (let i = 0; i < n; i++) out.push(h.pop());
  return out;
}

describe('JitterBuffer', () => {
  it('plays a steady stream in order after the initial depth', () => {
    const h = harness({ initialDepthMs: 40 });
    const played: (number | string)[] = [];
    for (let s = 100; s < 110; s++) {
      h.push(s);
      played.push(h.pop());
    }
    // target 2 frames: one idle pop, then frames in order, one per pop.
    expect(played).toEqual(['idle', 100, 101, 102, 103, 104, 105, 106, 107, 108]);
    const st = h.jb.stats();
    expect(st).toMatchObject({ received: 10, lost: 0, late: 0, duplicate: 0, reordered: 0, concealed: 0 });
  });

  it('reorders packets within the depth', () => {
    const h = harness({ initialDepthMs: 60 });
    const order = [1, 3, 2, 4, 6, 5, 7, 8, 9, 10];
    const played: (number | string)[] = [];
    for (const s of order) {
      expect(h.push(s)).toBe('accepted');
      played.push(h.pop());
    }
    played.push(...drainFrames(h, 3));
    expect(played.filter((x) => typeof x === 'number')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(h.jb.stats().reordered).toBe(2);
  });

  it('drops and counts duplicates, before and after playout', () => {
    const h = harness();
    h.push(1);
    expect(h.push(1)).toBe('duplicate');
    h.push(2);
    expect(drainFrames(h, 3)).toEqual(['idle', 1, 2]);
    expect(h.push(1)).toBe('duplicate');
    expect(h.jb.stats().duplicate).toBe(2);
    expect(h.jb.stats().late).toBe(0);
  });

  it('reports a missing frame as lost without shifting time', () => {
    const h = harness({ initialDepthMs: 40 });
    const played: (number | string)[] = [];
    for (let s = 1; s <= 8; s++) {
      if (s !== 4) h.push(s);
      played.push(h.pop());
    }
    expect(played).toEqual(['idle', 1, 2, 3, 'lost', 5, 6, 7]);
    const st = h.jb.stats();
    expect(st.lost).toBe(1);
    expect(st.concealed).toBe(1);
  });

  it('counts a packet arriving after its slot was played as late and drops it', () => {
    const h = harness({ initialDepthMs: 20, minDepthMs: 20 });
    h.push(1);
    expect(h.pop()).toBe(1);
    h.push(3);
    expect(h.pop()).toBe('lost'); // 2 missing, 3 buffered
    expect(h.push(2)).toBe('late');
    expect(h.pop()).toBe(3);
    const st = h.jb.stats();
    expect(st.late).toBe(1);
    expect(st.lost).toBe(0); // it did arrive, just too late (RFC 3550 counts it received)
  });

  it('handles the 16-bit sequence wrap 65535 → 0 and the 32-bit timestamp wrap', () => {
    const h = harness({ initialDepthMs: 40 });
    const played: (number | string)[] = [];
    const tsBase = 0xffffffff - 3 * FRAME + 1;
    for (let i = 0; i < 8; i++) {
      const seq = (65533 + i) & 0xffff;
      if (i !== 5) h.push(seq, tsBase + i * FRAME); // lose seq 2
      played.push(h.pop());
    }
    expect(played).toEqual(['idle', 65533, 65534, 65535, 0, 1, 'lost', 3]);
    expect(h.jb.stats().lost).toBe(1);
    expect(h.jb.stats().reordered).toBe(0);
  });

  it('resyncs on an SSRC change', () => {
    const h = harness({ initialDepthMs: 40 });
    for (let s = 1; s <= 4; s++) {
      h.push(s);
      h.pop();
    }
    // New SSRC with unrelated sequence and timestamp.
    expect(h.push(5000, 999_999, 2)).toBe('accepted');
    h.push(5001, 999_999 + FRAME, 2);
    // The new stream follows the old one's last frame directly: no gap, nothing late.
    expect(drainFrames(h, 3)).toEqual([4, 5000, 5001]);
    expect(h.jb.stats().ssrcChanges).toBe(1);
    expect(h.jb.stats().late).toBe(0);
    expect(h.jb.stats().lost).toBe(0);
  });

  it('resyncs at once on a forward timestamp jump without SSRC change (next sequence number)', () => {
    const h = harness({ initialDepthMs: 40 });
    for (let s = 1; s <= 4; s++) {
      h.push(s);
      h.pop();
    }
    h.push(5); // keep something buffered so the jump is not a plain re-anchor
    const results = [6, 7, 8].map((s) => h.push(s, 50_000_000 + s * FRAME));
    expect(results).toEqual(['accepted', 'accepted', 'accepted']);
    expect(h.jb.stats().resyncs).toBe(1);
    expect(drainFrames(h, 5)).toEqual([4, 5, 6, 7, 8]);
  });

  it('keeps silence-suppression gaps (timestamp-based) and re-anchors at the talkspurt marker', () => {
    const h = harness({ initialDepthMs: 40 });
    const played: (number | string)[] = [];
    for (let s = 1; s <= 3; s++) {
      h.push(s);
      played.push(h.pop());
    }
    played.push(h.pop(), h.pop()); // drains 2, 3
    for (let i = 0; i < 10; i++) played.push(h.pop()); // 200 ms of silence: nothing sent
    // The next talkspurt: seq continues at 4, timestamp advanced by the silence (RFC 3551 §4.1 marker).
    const ts = (3 + 12) * FRAME;
    h.push(4, ts, 1, true);
    played.push(h.pop());
    h.push(5, ts + FRAME);
    played.push(h.pop(), h.pop());
    expect(played.slice(0, 5)).toEqual(['idle', 1, 2, 3, 'empty']);
    // The marker packet arrived just in time: one concealment frame is inserted (still in the silence) so
    // the new talkspurt plays with the target depth.
    expect(played.slice(-3)).toEqual(['lost', 4, 5]);
    expect(played.filter((x) => typeof x === 'number')).toEqual([1, 2, 3, 4, 5]);
    expect(h.jb.stats().lost).toBe(0);
  });

  it('grows the depth when packets arrive late under jitter, within maxDepthMs', () => {
    const h = harness({ initialDepthMs: 20, minDepthMs: 20, maxDepthMs: 120 });
    // Every 5th packet is delayed by 70 ms; the buffer should adapt so they stop being late.
    let seed = 7;
    const rand = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const arrivals: { seq: number; at: number }[] = [];
    for (let s = 0; s < 500; s++) arrivals.push({ seq: s, at: s * 20 + (s % 5 === 0 ? 70 : rand() * 10) });
    arrivals.sort((a, b) => a.at - b.at);
    let now = 0;
    let i = 0;
    const lateAt: number[] = [];
    for (let tick = 0; tick < 520; tick++) {
      while (i < arrivals.length && arrivals[i]!.at <= tick * 20) {
        h.advance(arrivals[i]!.at - now);
        now = arrivals[i]!.at;
        if (h.push(arrivals[i]!.seq) === 'late') lateAt.push(tick);
        i++;
      }
      h.advance(tick * 20 - now);
      now = tick * 20;
      h.jb.pop();
    }
    const st = h.jb.stats();
    expect(st.targetDepthMs).toBeGreaterThanOrEqual(80);
    expect(st.targetDepthMs).toBeLessThanOrEqual(120);
    // Late packets only during the first seconds, then none.
    expect(lateAt.filter((t) => t > 200)).toEqual([]);
    expect(st.late).toBeGreaterThan(0);
  });

  it('still drains a gap when the sender stops while the target is deeper than the buffer', () => {
    const h = harness({ initialDepthMs: 20, minDepthMs: 20 });
    h.push(1);
    expect(h.pop()).toBe(1);
    h.push(3);
    expect(h.pop()).toBe('lost');
    h.push(2); // late: the target grows
    expect(h.jb.targetDepthMs).toBeGreaterThanOrEqual(40);
    h.push(5); // gap at 4; then the sender goes quiet
    const played = drainFrames(h, 8);
    expect(played).toContain(5);
    expect(played.at(-1)).toBe('empty');
  });

  it('shrinks back toward the target when over-deep, at the silence between talkspurts only', () => {
    const h = harness({ initialDepthMs: 20, minDepthMs: 20, adaptWindowFrames: 10 });
    h.push(1);
    // Sender bursts 6 extra frames ahead (e.g. after a network stall), then a steady stream.
    for (let s = 2; s <= 7; s++) h.push(s);
    let seq = 8;
    const played: (number | string)[] = [];
    for (let i = 0; i < 100; i++) {
      h.push(seq++);
      played.push(h.pop());
    }
    // Over-deep all along, but every frame so far was speech: none dropped.
    expect(h.jb.stats().skipped).toBe(0);
    expect(h.jb.stats().depthMs).toBeGreaterThan(40);
    // Silence suppression: 4 frames not sent, then a talkspurt with the marker bit; its gap is dropped.
    for (let i = 0; i < 4; i++) played.push(h.pop());
    for (let i = 0; i < 50; i++) {
      h.push(seq, (seq + 4) * FRAME, 1, i === 0);
      seq++;
      played.push(h.pop());
    }
    played.push(...drainFrames(h, 10));
    const st = h.jb.stats();
    expect(st.skipped).toBeGreaterThan(0);
    expect(st.skipped).toBeLessThanOrEqual(4);
    expect(played.filter((x) => typeof x === 'number')).toEqual(
      Array.from({ length: seq - 1 }, (_, i) => i + 1),
    );
  });

  it('keeps memory bounded: packets beyond the ring are dropped while audio is buffered, then re-anchor', () => {
    const h = harness();
    h.push(1);
    h.push(2);
    // 998 packets later by sequence and timestamp alike (a long outage): beyond the ring while 1–2 wait.
    h.advance(998 * 20);
    expect(h.push(1000)).toBe('out-of-range');
    expect(h.push(1001)).toBe('out-of-range');
    expect(h.jb.capacityFrames).toBeLessThanOrEqual(32);
    expect(drainFrames(h, 3)).toEqual(['idle', 1, 2]);
    // The buffer has drained: the next packet starts a new talkspurt at the target depth.
    expect(h.push(1002)).toBe('accepted');
    expect(h.push(1003)).toBe('accepted');
    expect(drainFrames(h, 4).filter((x) => typeof x === 'number')).toEqual([1002, 1003]);
    expect(h.jb.stats().late).toBe(0);
  });

  it('a sequence jump with a timestamp that does not match is held back until a second packet confirms it', () => {
    const h = harness();
    h.push(1);
    h.push(2);
    expect(h.push(1000, 90_000_000)).toBe('out-of-range'); // a stray so far
    expect(h.push(1001, 90_000_000 + FRAME)).toBe('accepted'); // it continues: follow the sender
    expect(drainFrames(h, 4)).toEqual(['idle', 1, 2, 1001]);
    expect(h.jb.stats().resyncs).toBe(1);
  });

  it('drops oversize payloads and tolerates pop before any push', () => {
    const jb = new JitterBuffer({ frameSamples: FRAME, maxPayloadBytes: 4 });
    expect(jb.pop().kind).toBe('idle');
    const buf = Buffer.alloc(10);
    expect(
      jb.push({
        buffer: buf,
        payloadOffset: 0,
        payloadLength: 10,
        sequence: 1,
        timestamp: 0,
        ssrc: 1,
        marker: false,
      }),
    ).toBe('oversize');
  });

  it('does not count diverted (telephone-event) sequence numbers as lost', () => {
    const h = harness();
    h.push(1);
    h.push(2);
    h.jb.noteDiverted(3, 1);
    h.jb.noteDiverted(4, 99); // another SSRC: ignored
    h.push(5, 3 * FRAME);
    expect(h.jb.stats().lost).toBe(1); // only seq 4
  });

  it('reset() starts a new stream and keeps counters', () => {
    const h = harness();
    h.push(1);
    h.push(3);
    h.jb.reset();
    expect(h.pop()).toBe('idle');
    h.push(10);
    expect(h.jb.stats().received).toBe(3);
    expect(h.jb.stats().lost).toBe(1);
  });
});
