/**
 * Issue 10: the jitter buffer against what real peers send — timestamp jumps with one SSRC (an SBC switching
 * source), SSRC changes, packets of any duration on a 20 ms leg, talkspurts, a path that gets slower for
 * good. Media time only: a fake clock that moves 20 ms per pop.
 */
import { describe, expect, it } from 'vitest';
import { JitterBuffer, type JitterBufferOptions } from '../../../src/media/rtp/jitter-buffer.js';

const F = 160; // 20 ms at 8 kHz

/** Sample-mode harness (G.711: one byte per timestamp unit). Payload byte i of a packet = (ts + i) % 251. */
function g711(options: Partial<JitterBufferOptions> = {}) {
  let now = 0;
  const jb = new JitterBuffer({
    frameSamples: F,
    minDepthMs: 40,
    nowMs: () => now,
    bytesPerTimestampUnit: 1,
    fillByte: 0xff,
    ...options,
  });
  const buf = Buffer.alloc(1500);
  const push = (seq: number, ts: number, units: number, opts: { ssrc?: number; marker?: boolean } = {}) => {
    for (let i = 0; i < units; i++) buf[i] = (ts + i) % 251;
    return jb.push({
      buffer: buf,
      payloadOffset: 0,
      payloadLength: units,
      sequence: seq & 0xffff,
      timestamp: ts >>> 0,
      ssrc: opts.ssrc ?? 1,
      marker: opts.marker ?? false,
    });
  };
  /** Pops one frame: the timestamp its first byte encodes (mod 251), or the kind. */
  const pop = (): number | string => {
    now += 20;
    const f = jb.pop();
    return f.kind === 'frame' ? (f.payload[0] ?? -1) : f.kind;
  };
  const advance = (ms: number): void => {
    now += ms;
  };
  return { jb, push, pop, advance };
}

/** Runs a stream of `packetMs` packets in real (fake) time: packet k arrives when it is complete. */
function runStream(packetMs: number, packets: number, lose: Set<number> = new Set()) {
  const h = g711();
  const units = packetMs * 8;
  const frames: Buffer[] = [];
  const kinds: string[] = [];
  let k = 0;
  for (let t = 0; t < packets * packetMs + 200; t += 20) {
    while (k < packets && (k + 1) * packetMs <= t) {
      if (!lose.has(k)) h.push(k, k * units, units);
      k++;
    }
    h.advance(20);
    const f = h.jb.pop();
    kinds.push(f.kind);
    if (f.kind === 'frame') frames.push(Buffer.from(f.payload.subarray(0, f.payloadLength)));
  }
  return { h, frames, kinds };
}

describe('JitterBuffer: packets of any duration on a 20 ms leg (sample mode)', () => {
  for (const packetMs of [10, 20, 30, 40, 60]) {
    it(`${packetMs} ms packets: every sample played once, in order, nothing concealed or dropped`, () => {
      const packets = Math.floor(3000 / packetMs);
      const { h, frames, kinds } = runStream(packetMs, packets);
      const played = Buffer.concat(frames);
      expect(played.length).toBe(packets * packetMs * 8);
      for (let i = 0; i < played.length; i += 97) expect(played[i], `sample ${i}`).toBe(i % 251);
      const st = h.jb.stats();
      expect(st).toMatchObject({ late: 0, duplicate: 0, outOfRange: 0, partial: 0, resyncs: 0 });
      // Between the first frame and the end of the stream, no pop had to conceal.
      const first = kinds.indexOf('frame');
      const last = kinds.lastIndexOf('frame');
      expect(kinds.slice(first, last + 1).every((k) => k === 'frame')).toBe(true);
      // The depth covers the packet: a 60 ms packet completes three frames at once.
      expect(st.targetDepthMs).toBeGreaterThanOrEqual(Math.max(40, packetMs + 20));
    });
  }

  it('a lost 10 ms packet leaves half a frame of silence (fill byte), counted as partial, time kept', () => {
    const { h, frames } = runStream(10, 100, new Set([41]));
    const played = Buffer.concat(frames);
    expect(played.length).toBe(100 * 80);
    expect(played.subarray(41 * 80, 42 * 80).every((b) => b === 0xff)).toBe(true);
    expect(played[42 * 80]).toBe((42 * 80) % 251);
    expect(h.jb.stats().partial).toBe(1);
    expect(h.jb.stats().lost).toBe(1);
  });

  it('30 ms packets out of order are put back by timestamp', () => {
    const h = g711({ initialDepthMs: 100 });
    for (const k of [0, 2, 1, 3, 5, 4]) expect(h.push(k, k * 240, 240)).toBe('accepted');
    const out: (number | string)[] = [];
    for (let i = 0; i < 14; i++) out.push(h.pop());
    const played = out.filter((x) => typeof x === 'number');
    expect(played).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8].map((f) => (f * F) % 251));
    expect(h.jb.stats().reordered).toBe(2);
  });

  it('a duplicated 10 ms half is dropped as duplicate', () => {
    const h = g711();
    h.push(0, 0, 80);
    h.push(1, 80, 80);
    expect(h.push(1, 80, 80)).toBe('duplicate');
    expect(h.push(0, 0, 80)).toBe('duplicate');
  });
});

describe('JitterBuffer: timestamp jumps, SSRC changes, talkspurts', () => {
  /** 20 ms packets in lockstep with pops; `ts(k)` maps packet index to its timestamp. */
  function lockstep(
    n: number,
    ts: (k: number) => number,
    opts: (k: number) => { ssrc?: number } = () => ({}),
  ) {
    const h = g711();
    const results: string[] = [];
    const played: (number | string)[] = [];
    for (let k = 0; k < n; k++) {
      results.push(h.push(1000 + k, ts(k), F, opts(k)));
      played.push(h.pop());
    }
    return { h, results, played };
  }

  it('a backward timestamp jump with the same SSRC (SBC switch) plays on: nothing late, no gap', () => {
    const { h, results, played } = lockstep(60, (k) => (k < 30 ? 80_000 + k * F : 3_000 + (k - 30) * F));
    expect(results.every((r) => r === 'accepted')).toBe(true);
    const st = h.jb.stats();
    expect(st.late).toBe(0);
    expect(st.resyncs).toBe(1);
    // Once started, every pop is a frame: the new timeline follows the old one directly.
    const first = played.findIndex((p) => typeof p === 'number');
    expect(played.slice(first).every((p) => typeof p === 'number')).toBe(true);
    expect(played.at(-1)).toBe((3_000 + 28 * F) % 251); // two frames of depth behind the last pushed
  });

  it('a backward jump smaller than the ring is not mistaken for late packets either', () => {
    // Jump back by 5 frames (100 ms): inside the ring, where the old code played every later packet "late".
    const { h, results } = lockstep(40, (k) => (k < 20 ? k * F : (k - 5) * F));
    expect(results.filter((r) => r !== 'accepted')).toEqual([]);
    expect(h.jb.stats().late).toBe(0);
  });

  it('a forward jump far beyond the ring with the next sequence number resyncs at once', () => {
    const { h, results, played } = lockstep(40, (k) => (k < 20 ? k * F : 50_000_000 + k * F));
    expect(results.every((r) => r === 'accepted')).toBe(true);
    expect(h.jb.stats().resyncs).toBe(1);
    const first = played.findIndex((p) => typeof p === 'number');
    expect(played.slice(first).every((p) => typeof p === 'number')).toBe(true);
  });

  it('an SSRC change continues right after the old stream; late packets of the old SSRC are stale', () => {
    const h = g711();
    const played: (number | string)[] = [];
    for (let k = 0; k < 10; k++) {
      h.push(k, k * F, F, { ssrc: 1 });
      played.push(h.pop());
    }
    for (let k = 0; k < 10; k++) {
      expect(h.push(50_000 + k, 7_777_000 + k * F, F, { ssrc: 2 })).toBe('accepted');
      if (k === 1) expect(h.push(10, 10 * F, F, { ssrc: 1 })).toBe('stale');
      played.push(h.pop());
    }
    const st = h.jb.stats();
    expect(st).toMatchObject({ ssrcChanges: 1, stale: 1, late: 0 });
    const first = played.findIndex((p) => typeof p === 'number');
    expect(played.slice(first).every((p) => typeof p === 'number')).toBe(true);
  });

  it('a talkspurt after silence (marker) starts at the target depth; the silence keeps its length', () => {
    const h = g711();
    const played: (number | string)[] = [];
    for (let k = 0; k < 5; k++) {
      h.push(k, k * F, F);
      played.push(h.pop());
    }
    for (let i = 0; i < 10; i++) played.push(h.pop()); // 200 ms of silence, nothing sent (RFC 3551 §4.1)
    for (let k = 0; k < 5; k++) {
      h.push(5 + k, (5 + 15 + k) * F, F, { marker: k === 0 });
      played.push(h.pop());
    }
    played.push(h.pop(), h.pop());
    expect(played.filter((p) => typeof p === 'number')).toEqual(
      [0, 1, 2, 3, 4, 20, 21, 22, 23, 24].map((f) => (f * F) % 251),
    );
    expect(h.jb.stats()).toMatchObject({ late: 0, lost: 0, resyncs: 0 });
  });

  it('a path that gets 300 ms slower for good re-anchors within 200 ms of media, then nothing is late', () => {
    const h = g711();
    let lateAfter = 0;
    let now = 0;
    const arrivals: { at: number; k: number }[] = [];
    for (let k = 0; k < 200; k++) arrivals.push({ at: (k + 1) * 20 + (k >= 50 ? 300 : 0), k });
    let i = 0;
    for (let t = 5; t < 5000; t += 20) {
      while (i < arrivals.length && arrivals[i]!.at <= t) {
        const { k } = arrivals[i]!;
        h.advance(arrivals[i]!.at - now);
        now = arrivals[i]!.at;
        if (h.push(k, k * F, F) === 'late' && k >= 50 + 10) lateAfter++;
        i++;
      }
      h.advance(t - now);
      now = t;
      h.jb.pop();
    }
    const st = h.jb.stats();
    expect(st.resyncs).toBe(1);
    expect(st.late).toBeLessThanOrEqual(10); // at most 200 ms of media dropped once
    expect(lateAfter).toBe(0);
  });

  it('a short stall (three packets late at once) is dropped, not re-anchored', () => {
    const h = g711();
    const played: (number | string)[] = [];
    for (let k = 0; k < 40; k++) {
      if (k >= 20 && k < 23) {
        played.push(h.pop()); // the packets of 20–22 are stuck somewhere
        continue;
      }
      if (k === 23) for (const j of [20, 21, 22]) h.push(j, j * F, F); // they arrive late, together
      h.push(k, k * F, F);
      played.push(h.pop());
    }
    const st = h.jb.stats();
    expect(st.resyncs).toBe(0);
    expect(st.late).toBe(2);
    // No re-anchoring: the depth only grew by the frames adaptation inserted (the late packets raised the
    // target to cover them), so the last frame played is exactly that much further behind the last packet.
    expect(st.inserted).toBeGreaterThan(0);
    expect(st.inserted).toBeLessThanOrEqual(4);
    expect(played.at(-1)).toBe(((38 - st.inserted) * F) % 251);
  });

  it('RFC 4733 packets between talkspurts (diverted) are neither lost audio nor a discontinuity', () => {
    const h = g711();
    for (let k = 0; k < 5; k++) {
      h.push(k, k * F, F);
      h.pop();
    }
    // Three event packets take sequence numbers 5–7; audio resumes at 8, 160 ms later.
    for (const s of [5, 6, 7]) h.jb.noteDiverted(s, 1);
    for (let i = 0; i < 8; i++) h.pop();
    h.push(8, 13 * F, F);
    h.push(9, 14 * F, F);
    const out = [h.pop(), h.pop(), h.pop(), h.pop()];
    expect(out.filter((p) => typeof p === 'number')).toEqual([(13 * F) % 251, (14 * F) % 251]);
    expect(h.jb.stats()).toMatchObject({ lost: 0, resyncs: 0, late: 0 });
  });
});
