import { describe, expect, it } from 'vitest';
import { concealFrame } from '../../../src/media/rtp/concealment.js';

describe('concealFrame', () => {
  const prev = new Int16Array(160).fill(10_000);

  it('repeats the last frame, fading to silence over fadeFrames', () => {
    const out = new Int16Array(160);
    concealFrame(prev, out, 1, 3);
    expect(out[0]).toBeLessThanOrEqual(10_000);
    expect(out[0]).toBeGreaterThan(9_900);
    expect(out[159]).toBeCloseTo(6667, -1);
    const second = new Int16Array(160);
    concealFrame(prev, second, 2, 3);
    // Continuous across the frame boundary: no step.
    expect(Math.abs((second[0] ?? 0) - (out[159] ?? 0))).toBeLessThan(30);
    concealFrame(prev, second, 3, 3);
    expect(second[159]).toBe(0);
    concealFrame(prev, second, 4, 3);
    expect(second.every((x) => x === 0)).toBe(true);
  });

  it('is monotonically non-increasing in magnitude within a run', () => {
    const out = new Int16Array(160);
    let last = 10_000;
    for (let loss = 1; loss <= 3; loss++) {
      concealFrame(prev, out, loss);
      for (const x of out) {
        expect(x).toBeLessThanOrEqual(last);
        last = x;
      }
    }
  });

  it('fills silence for a zero loss count and handles a longer output', () => {
    const out = new Int16Array(200).fill(5);
    concealFrame(prev, out, 0);
    expect(out.slice(0, 160).every((x) => x === 0)).toBe(true);
    out.fill(5);
    concealFrame(prev, out, 1);
    expect(out.slice(160).every((x) => x === 0)).toBe(true);
  });
});
