/**
 * The adaptive shrink never drops a speech frame (linphone showed a mid-speech frame skip): an over-deep
 * buffer comes down only during silence — a frame that is quiet or comfort noise, or a gap between
 * talkspurts. Media time only: a fake clock that moves 20 ms per pop; depths are asserted in frames.
 */
import { describe, expect, it } from 'vitest';
import { JitterBuffer, type JitterBufferOptions } from '../../../src/media/rtp/jitter-buffer.js';

const F = 160; // 20 ms at 8 kHz
const FRAME_MS = 20;
/** Payload bytes of a speech frame: loud µ-law codes (segments 4–7). Bytes 0–1 carry the frame's id. */
const LOUD = 0x20;
/** Low-level noise in µ-law (segment 0, about −50 dBFS): what a phone sends between words. */
const QUIET_A = 0xfc;
const QUIET_B = 0x7d;

/** Lockstep stream: one packet per pop, each 20 ms of µ-law, payload speech (with an id) or quiet noise. */
function ulawStream(options: Partial<JitterBufferOptions> = {}) {
  let now = 0;
  const jb = new JitterBuffer({
    frameSamples: F,
    minDepthMs: 20,
    // Starts 120 ms deep; the calm stream below lets the target fall to 20 ms within a second.
    initialDepthMs: 120,
    maxDepthMs: 200, // 10 frames: the buffer's maximum depth; the shrink may drop a lost frame beyond it
    adaptWindowFrames: 10,
    nowMs: () => now,
    bytesPerTimestampUnit: 1,
    fillByte: 0xff,
    ...options,
  });
  const buf = Buffer.alloc(F);
  let seq = 1000;
  let ts = 50_000;
  /** Sends one frame: `id` ≥ 0 is speech tagged with it, `null` is quiet noise. */
  const send = (id: number | null, marker = false): void => {
    if (id === null) for (let i = 0; i < F; i++) buf[i] = i % 2 === 0 ? QUIET_A : QUIET_B;
    else {
      buf.fill(LOUD);
      buf[0] = id & 0x3f;
      buf[1] = (id >> 6) & 0x3f;
    }
    jb.push(
      { buffer: buf, payloadOffset: 0, payloadLength: F, sequence: seq, timestamp: ts, ssrc: 7, marker },
      now,
    );
    seq = (seq + 1) & 0xffff;
    ts = (ts + F) >>> 0;
  };
  /** The sender skips `frames` frames of media time (silence suppression): the timestamp jumps. */
  const suppress = (frames: number): void => {
    ts = (ts + frames * F) >>> 0;
  };
  /** A packet lost on the way: its sequence number and timestamp are used up. */
  const lose = (): void => {
    seq = (seq + 1) & 0xffff;
    ts = (ts + F) >>> 0;
  };
  /** Speech ids played, in order. */
  const played: number[] = [];
  const pop = (): void => {
    now += FRAME_MS;
    const f = jb.pop();
    if (f.kind !== 'frame') return;
    const b0 = f.payload[0] ?? 0xff;
    const b1 = f.payload[1] ?? 0xff;
    if (b0 < 0x40 && b1 < 0x40 && f.payload[2] === LOUD) played.push(b0 | (b1 << 6));
  };
  /** Speech ids sent, in order, by talk(). */
  const sent: number[] = [];
  let nextId = 0;
  /** `frames` pops of speech, one new frame each; the first with the marker bit if `marker`. */
  const talk = (frames: number, marker = false): void => {
    for (let i = 0; i < frames; i++) {
      sent.push(nextId);
      send(nextId++, marker && i === 0);
      pop();
    }
  };
  const depthFrames = (): number => jb.stats().depthMs / FRAME_MS;
  const targetFrames = (): number => jb.targetDepthMs / FRAME_MS;
  return { jb, send, suppress, lose, pop, talk, sent, played, depthFrames, targetFrames };
}

describe('JitterBuffer: the adaptive shrink waits for silence', () => {
  it('drops no speech frame while over-deep, then comes down to the target during quiet frames', () => {
    const s = ulawStream();
    // 6 s of continuous speech: the target falls to one frame while the buffer stays six frames deep.
    s.talk(300);
    const deepFrames = s.depthFrames();
    expect(s.targetFrames()).toBe(1);
    expect(deepFrames).toBeGreaterThanOrEqual(5); // over-deep, and left so: shrinking now would cut speech
    expect(s.jb.stats().skipped).toBe(0);
    // 1 s of low-level noise between sentences: the shrink drops quiet frames only.
    for (let i = 0; i < 50; i++) {
      s.send(null);
      s.pop();
    }
    const afterSilence = s.depthFrames();
    // Within one frame of the target (the push/pop phase), and exactly as many frames skipped as it fell.
    expect(afterSilence).toBeLessThanOrEqual(s.targetFrames() + 1);
    expect(s.jb.stats().skipped).toBe(deepFrames - afterSilence);
    // 2 s more speech, then the tail drains (bounded: 20 pops > any depth).
    s.talk(100);
    for (let i = 0; i < 20; i++) s.pop();
    expect(s.played).toEqual(s.sent);
    const st = s.jb.stats();
    expect(st).toMatchObject({ late: 0, concealed: 0, lost: 0 });
  });

  it('shrinks at a silence-suppression gap, skipping no buffered speech (packet mode: no level to judge)', () => {
    // Packet mode (Opus-like): payloads cannot be classified, only gaps between talkspurts are silence.
    const s = ulawStream({ bytesPerTimestampUnit: 0 });
    s.talk(200);
    const deepFrames = s.depthFrames();
    expect(deepFrames).toBeGreaterThanOrEqual(5);
    expect(s.jb.stats().skipped).toBe(0);
    // DTX: three frames not sent; the next talkspurt starts with the marker bit (RFC 3551 §4.1). The buffer
    // still holds speech, so the gap's empty frames come up for playout with frames buffered behind them.
    s.suppress(3);
    for (let i = 0; i < 3; i++) s.pop();
    s.talk(100, true);
    const st = s.jb.stats();
    expect(st.skipped).toBeGreaterThan(0);
    expect(s.depthFrames()).toBeLessThan(deepFrames);
    for (let i = 0; i < 20; i++) s.pop();
    expect(s.played).toEqual(s.sent);
    expect(st.late).toBe(0);
  });

  it('a lost speech packet is concealed, not skipped, even when over-deep', () => {
    const s = ulawStream();
    s.talk(250);
    s.lose();
    s.pop();
    s.talk(49);
    for (let i = 0; i < 20; i++) s.pop();
    expect(s.played).toEqual(s.sent);
    expect(s.jb.stats()).toMatchObject({ skipped: 0, concealed: 1, lost: 1 });
  });

  it('a sender clock running fast through speech: frames of lost packets go, no speech frame', () => {
    // 2 % fast with 2 % loss (as bench/jitter-buffer.bench.ts): every 50th pop the sender's clock has moved
    // one frame more — a packet lost on the way, and the next one on time for the sender.
    const s = ulawStream();
    let maxDepth = 0;
    for (let i = 0; i < 1000; i++) {
      if (i % 50 === 49) s.lose();
      s.talk(1);
      maxDepth = Math.max(maxDepth, s.depthFrames());
    }
    for (let i = 0; i < 30; i++) s.pop();
    expect(s.played).toEqual(s.sent);
    const st = s.jb.stats();
    expect(st.skipped).toBeGreaterThan(0);
    // Held at the maximum depth (10 frames) within one frame; without the shrink it would be 6 + 20 frames.
    expect(maxDepth).toBeLessThanOrEqual(11);
    expect(st).toMatchObject({ outOfRange: 0, late: 0 });
  });

  it('a sender clock running fast without pause or loss: beyond twice the maximum a frame goes anyway', () => {
    const s = ulawStream();
    let id = 0;
    let maxDepth = 0;
    for (let i = 0; i < 1500; i++) {
      s.send(id++);
      if (i % 50 === 49) s.send(id++); // 2 % fast: one frame more every 50 pops
      s.pop();
      maxDepth = Math.max(maxDepth, s.depthFrames());
    }
    const st = s.jb.stats();
    // 30 frames more than played: the ring (32 frames) would have overflowed; it stays within 2 × 10 + 1.
    expect(maxDepth).toBeLessThanOrEqual(21);
    expect(st.skipped).toBeGreaterThan(0);
    expect(st).toMatchObject({ outOfRange: 0, late: 0, concealed: 0 });
    for (let i = 0; i < 30; i++) s.pop();
    expect(s.played.length).toBe(id - st.skipped);
  });

  it('an A-law stream is judged by its own quiet codes', () => {
    const s = ulawStream({ fillByte: 0xd5 });
    // µ-law quiet noise (0xfc/0x7d) is loud in A-law: nothing is quiet here, so nothing is skipped.
    for (let i = 0; i < 300; i++) {
      s.send(i % 100 < 50 ? i : null);
      s.pop();
    }
    expect(s.jb.stats().skipped).toBe(0);
    expect(s.depthFrames()).toBeGreaterThanOrEqual(5);
  });
});
