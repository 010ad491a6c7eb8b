import { describe, expect, it } from 'vitest';
import { EnergyVad, type VadTransition } from '../../src/agent/vad.js';
import { concat, padWithSilence, readWavFixture, tone } from './providers/echo/fixture-audio.js';

const RATE = 8000;
const silence = (ms: number): Int16Array => new Int16Array((RATE * ms) / 1000);

function run(vad: EnergyVad, pcm: Int16Array, chunkSamples: number): VadTransition[] {
  const seen: VadTransition[] = [];
  vad.onTransition = (t) => seen.push(t);
  for (let o = 0; o < pcm.length; o += chunkSamples) vad.process(pcm.subarray(o, o + chunkSamples));
  return seen;
}

describe('EnergyVad', () => {
  it('reports a start backdated to the onset and an end backdated to the silence onset', () => {
    const vad = new EnergyVad({ sampleRateHz: RATE });
    const seen = run(vad, concat(silence(300), tone(RATE, 400), silence(800)), 160);
    expect(seen).toEqual([
      { type: 'start', atMs: 300 },
      { type: 'end', atMs: 700 },
    ]);
    expect(vad.speaking).toBe(false);
    expect(vad.processedMs).toBe(1500);
  });

  it('gives the same result for odd chunk sizes (partial frames carried over)', () => {
    const signal = concat(silence(300), tone(RATE, 400), silence(800));
    const a = run(new EnergyVad({ sampleRateHz: RATE }), signal, 160);
    const b = run(new EnergyVad({ sampleRateHz: RATE }), signal, 37);
    const c = run(new EnergyVad({ sampleRateHz: RATE }), signal, signal.length);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });

  it('returns the last transition of the chunk while the callback sees all of them', () => {
    const seen: VadTransition[] = [];
    const vad = new EnergyVad({ sampleRateHz: RATE, minSilenceMs: 200 }, (t) => seen.push(t));
    const last = vad.process(concat(tone(RATE, 300), silence(400), tone(RATE, 300)));
    expect(seen.map((t) => t.type)).toEqual(['start', 'end', 'start']);
    expect(last).toEqual({ type: 'start', atMs: 700 });
    expect(vad.speaking).toBe(true);
  });

  it('ignores clicks shorter than minSpeechMs and quiet noise below the threshold', () => {
    const vad = new EnergyVad({ sampleRateHz: RATE });
    const noise = tone(RATE, 1000, 300, 0.002); // about -57 dBFS
    const seen = run(vad, concat(silence(200), tone(RATE, 40), silence(500), noise), 160);
    expect(seen).toEqual([]);
  });

  it('does not end the turn on gaps shorter than minSilenceMs', () => {
    const vad = new EnergyVad({ sampleRateHz: RATE, minSilenceMs: 500 });
    const seen = run(vad, concat(tone(RATE, 300), silence(300), tone(RATE, 300), silence(600)), 160);
    expect(seen).toEqual([
      { type: 'start', atMs: 0 },
      { type: 'end', atMs: 900 },
    ]);
  });

  it('holds speech through level dips within the hysteresis band', () => {
    // -40 dBFS threshold, 6 dB hysteresis: a -43 dBFS stretch keeps the turn, a -60 dBFS one ends it.
    const vad = new EnergyVad({ sampleRateHz: RATE, minSilenceMs: 200 });
    const dip = tone(RATE, 400, 440, 10 ** (-43 / 20) * Math.SQRT2);
    const seen = run(vad, concat(tone(RATE, 200), dip, tone(RATE, 200), silence(400)), 160);
    expect(seen).toEqual([
      { type: 'start', atMs: 0 },
      { type: 'end', atMs: 800 },
    ]);
  });

  it('reset() returns to idle at media time zero', () => {
    const vad = new EnergyVad({ sampleRateHz: RATE });
    vad.process(tone(RATE, 300));
    expect(vad.speaking).toBe(true);
    vad.reset();
    expect(vad.speaking).toBe(false);
    expect(vad.processedMs).toBe(0);
    expect(vad.process(concat(silence(100), tone(RATE, 200)))).toEqual({ type: 'start', atMs: 100 });
  });

  it('finds exactly one turn in the billing question fixture padded with silence', () => {
    const { pcm, sampleRateHz } = readWavFixture('caller-billing-question.wav');
    expect(sampleRateHz).toBe(8000);
    const padded = padWithSilence(pcm, sampleRateHz, 500, 1500);
    const vad = new EnergyVad({ sampleRateHz, minSilenceMs: 500 });
    const seen = run(vad, padded, 160);
    expect(seen.map((t) => t.type)).toEqual(['start', 'end']);
    const [start, end] = seen as [VadTransition, VadTransition];
    // Speech begins within the first 100 ms of the clip and ends before its last sample.
    expect(start.atMs).toBeGreaterThanOrEqual(500);
    expect(start.atMs).toBeLessThan(600);
    const clipEndMs = 500 + (pcm.length * 1000) / sampleRateHz;
    expect(end.atMs).toBeGreaterThan(clipEndMs - 800);
    expect(end.atMs).toBeLessThanOrEqual(clipEndMs);
  });
});
