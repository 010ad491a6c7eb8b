import { describe, expect, it } from 'vitest';
import { SILENCE_DBFS, classifyFrame, rms, rmsDbfs } from '../../../src/media/dsp/level.js';

describe('level', () => {
  it('measures RMS and dBFS (full-scale square = 0 dBFS, full-scale sine ≈ −3 dBFS)', () => {
    const square = new Int16Array(160).map((_, i) => (i % 2 === 0 ? 32767 : -32767));
    expect(rmsDbfs(square)).toBeCloseTo(0, 3);
    const sine = new Int16Array(8000).map((_, i) =>
      Math.round(32767 * Math.sin((2 * Math.PI * 1000 * i) / 8000)),
    );
    expect(rmsDbfs(sine)).toBeCloseTo(-3.01, 2);
    expect(rms(new Int16Array([3, -4]))).toBeCloseTo(Math.sqrt(12.5), 9);
  });

  it('honours start/end and clamps them', () => {
    const x = new Int16Array([0, 0, 100, 100, 0]);
    expect(rms(x, 2, 4)).toBe(100);
    expect(rms(x, -5, 100)).toBeCloseTo(Math.sqrt(20000 / 5), 9);
    expect(rmsDbfs(x, 0, 2)).toBe(SILENCE_DBFS);
  });

  it('reports silence for empty input', () => {
    expect(rms(new Int16Array(0))).toBe(0);
    expect(rmsDbfs(new Int16Array(0))).toBe(-Infinity);
    expect(classifyFrame(new Int16Array(0))).toBe('silence');
  });

  it('classifies frames by energy', () => {
    const quiet = new Int16Array(160).fill(50); // ≈ −56 dBFS
    const speech = new Int16Array(160).map((_, i) => (i % 4 < 2 ? 3000 : -3000)); // ≈ −21 dBFS
    expect(classifyFrame(quiet)).toBe('silence');
    expect(classifyFrame(speech)).toBe('active');
    expect(classifyFrame(quiet, -60)).toBe('active');
  });
});
