/**
 * The uplink noise suppressor (issue 14) on noisy speech (noise-fixture.ts: the caller fixtures with pauses,
 * pink + brown noise + 50 Hz hum at 6 dB SNR, seeded), in 20 ms frames as a call delivers them, at 8 and
 * 16 kHz. Figures are printed; the assertions are the bars: noise in pauses ≥ 10 dB quieter,
 * segmental SNR ≥ 3 dB better, speech level within 2 dB of the clean speech's.
 */
import { describe, expect, it } from 'vitest';
import { NoiseSuppressor } from '../../../src/media/dsp/noise-suppressor.js';
import { lcg } from './echo-fixture.js';
import { db, noisyScene, powerOver, segmentalSnrDb } from './noise-fixture.js';

/** The suppressor over a whole signal in frames of `frameMs`; the output as produced (latency included). */
function suppress(ns: NoiseSuppressor, input: Int16Array, frameMs = 20): Int16Array {
  const frame = (ns.sampleRateHz * frameMs) / 1000;
  const out = new Int16Array(input.length);
  const buf = new Int16Array(frame);
  for (let at = 0; at < input.length; at += frame) {
    const n = Math.min(frame, input.length - at);
    const piece = buf.subarray(0, n);
    piece.set(input.subarray(at, at + n));
    ns.process(piece);
    out.set(piece, at);
  }
  return out;
}

describe.each([8000, 16000] as const)('NoiseSuppressor at %i Hz', (rate) => {
  it('noise in pauses ≥ 10 dB quieter, segmental SNR ≥ 3 dB better, speech level within 2 dB', () => {
    const scene = noisyScene({ sampleRateHz: rate, snrDb: 6 });
    const ns = new NoiseSuppressor({ sampleRateHz: rate });
    const out = suppress(ns, scene.noisy);
    const lag = ns.latencySamples;
    const fs = scene.frameSamples;
    // Pauses after the first second (the estimator's start-up is not a pause between utterances).
    const pauses = scene.pauseFrames.filter((f) => f * fs >= rate);
    const pauseDb = db(powerOver(out, pauses, fs, lag) / powerOver(scene.noisy, pauses, fs));
    const segIn = segmentalSnrDb(scene.clean, scene.noisy, scene.speechFrames, fs);
    const segOut = segmentalSnrDb(scene.clean, out, scene.speechFrames, fs, lag);
    const speechDb = db(
      powerOver(out, scene.speechFrames, fs, lag) / powerOver(scene.clean, scene.speechFrames, fs),
    );
    const noisyDb = db(
      powerOver(scene.noisy, scene.speechFrames, fs) / powerOver(scene.clean, scene.speechFrames, fs),
    );
    const stats = ns.stats();
    console.info(
      `[noise-suppressor ${rate / 1000} kHz] pauses ${pauseDb.toFixed(1)} dB, segSNR ${segIn.toFixed(1)} → ${segOut.toFixed(1)} dB ` +
        `(+${(segOut - segIn).toFixed(1)}), speech level ${speechDb.toFixed(2)} dB vs clean (noisy input ${noisyDb.toFixed(2)} dB), ` +
        `${pauses.length} pause / ${scene.speechFrames.length} speech frames; stats ${JSON.stringify(stats)}`,
    );
    expect(pauseDb).toBeLessThanOrEqual(-10);
    expect(segOut - segIn).toBeGreaterThanOrEqual(3);
    expect(Math.abs(speechDb)).toBeLessThanOrEqual(2);
    expect(stats.hops).toBe(scene.noisy.length / ns.hopSamples);
    expect(stats.speechHops).toBeGreaterThan(0);
    expect(stats.speechHops).toBeLessThan(stats.hops);
    // The noise estimate is the scene's noise level (in pauses) within 3 dB.
    const noiseDbfs = db(powerOver(scene.noise, pauses, fs) / 32768 ** 2);
    expect(Math.abs(stats.noiseDbfs - noiseDbfs)).toBeLessThanOrEqual(3);
  });

  it('digital silence in, digital silence out; nothing is NaN, even for full-scale input', () => {
    const ns = new NoiseSuppressor({ sampleRateHz: rate });
    const silence = new Int16Array(rate * 2);
    expect(suppress(ns, silence).every((s) => s === 0)).toBe(true);
    const rnd = lcg(99);
    const loud = Int16Array.from({ length: rate }, () => (rnd() < 0 ? -32768 : 32767));
    const out = suppress(ns, loud);
    expect(out.every((s) => Number.isFinite(s))).toBe(true);
    expect(Number.isNaN(ns.stats().noiseDbfs)).toBe(false);
    expect(Number.isNaN(ns.stats().meanAttenuationDb)).toBe(false);
    // Back to silence: silence again once the window has passed.
    const after = suppress(ns, new Int16Array(rate));
    expect(after.subarray(ns.latencySamples + ns.fftSize).every((s) => s === 0)).toBe(true);
  });

  it('latency is exactly two hops (20 ms), for frames of 20 ms and of odd lengths', () => {
    for (const frameMs of [20, 10, 30, 7.5]) {
      const ns = new NoiseSuppressor({ sampleRateHz: rate });
      expect(ns.latencySamples).toBe((rate * 20) / 1000);
      const input = new Int16Array(rate);
      const at = Math.round(0.5 * rate) + 3; // not on a hop boundary
      input[at] = 20000;
      const out = suppress(ns, input, frameMs);
      let peak = 0;
      for (let i = 1; i < out.length; i++) if (Math.abs(out[i]!) > Math.abs(out[peak]!)) peak = i;
      expect(peak - at, `frames of ${frameMs} ms`).toBe(ns.latencySamples);
      // Against a silent background the impulse passes unattenuated (within 1 dB).
      expect(Math.abs(db((out[peak]! / 20000) ** 2))).toBeLessThanOrEqual(1);
    }
  });

  it('frame length does not change the result (10, 20, 30 ms frames give the same samples)', () => {
    const scene = noisyScene({ sampleRateHz: rate, snrDb: 6 });
    const a = suppress(new NoiseSuppressor({ sampleRateHz: rate }), scene.noisy, 20);
    const b = suppress(new NoiseSuppressor({ sampleRateHz: rate }), scene.noisy, 30);
    const c = suppress(new NoiseSuppressor({ sampleRateHz: rate }), scene.noisy, 10);
    const differing = (x: Int16Array): number => x.reduce((n, v, i) => (v === a[i] ? n : n + 1), 0);
    expect(a.length).toBe(scene.noisy.length);
    expect(differing(b)).toBe(0);
    expect(differing(c)).toBe(0);
  });
});

it('refuses a rate it was not designed for', () => {
  expect(() => new NoiseSuppressor({ sampleRateHz: 48000 })).toThrow(/8000 and 16000/);
});
