import { describe, expect, it } from 'vitest';
import { Resampler } from '../../../src/media/dsp/resampler.js';
import { SwitchboardError } from '../../../src/errors.js';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function tone(freqHz: number, rateHz: number, samples: number, amplitude: number): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++)
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freqHz * i) / rateHz));
  return out;
}

function resampleAll(r: Resampler, input: Int16Array): Int16Array {
  const out = new Int16Array(r.maxOutputSamples(input.length));
  return out.subarray(0, r.process(input, out));
}

/**
 * Least-squares fit of a·sin + b·cos + c at `freqHz` over `x[start, end)`; returns the SNR of the fitted
 * sinusoid against the residual, in dB, and its amplitude. Independent of the filter's delay.
 */
function sineFit(x: Int16Array, freqHz: number, rateHz: number, start: number, end: number) {
  let ss = 0, sc = 0, cc = 0, s1 = 0, c1 = 0, n = 0, xs = 0, xc = 0, x1 = 0; // prettier-ignore
  for (let i = start; i < end; i++) {
    const w = (2 * Math.PI * freqHz * i) / rateHz;
    const s = Math.sin(w);
    const c = Math.cos(w);
    const v = x[i] as number;
    ss += s * s;
    sc += s * c;
    cc += c * c;
    s1 += s;
    c1 += c;
    n += 1;
    xs += v * s;
    xc += v * c;
    x1 += v; // prettier-ignore
  }
  // Solve the 3×3 normal equations by Cramer's rule.
  const m = [ss, sc, s1, sc, cc, c1, s1, c1, n] as const;
  const det3 = (a: readonly number[]) =>
    a[0]! * (a[4]! * a[8]! - a[5]! * a[7]!) -
    a[1]! * (a[3]! * a[8]! - a[5]! * a[6]!) +
    a[2]! * (a[3]! * a[7]! - a[4]! * a[6]!);
  const d = det3(m);
  const a = det3([xs, sc, s1, xc, cc, c1, x1, c1, n]) / d;
  const b = det3([ss, xs, s1, sc, xc, c1, s1, x1, n]) / d;
  const c = det3([ss, sc, xs, sc, cc, xc, s1, c1, x1]) / d;
  let sig = 0;
  let res = 0;
  for (let i = start; i < end; i++) {
    const w = (2 * Math.PI * freqHz * i) / rateHz;
    const fit = a * Math.sin(w) + b * Math.cos(w) + c;
    sig += fit * fit;
    res += ((x[i] as number) - fit) ** 2;
  }
  return { snrDb: 10 * Math.log10(sig / res), amplitude: Math.hypot(a, b) };
}

function rmsOf(x: Int16Array, start = 0, end = x.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s += (x[i] as number) ** 2;
  return Math.sqrt(s / (end - start));
}

const RATES = [8000, 16000, 24000, 48000];
const PAIRS = RATES.flatMap((a) => RATES.filter((b) => b !== a).map((b) => [a, b] as const));

describe('Resampler', () => {
  it('reduces the ratio and sizes its output', () => {
    const r = new Resampler(16000, 24000);
    expect([r.upFactor, r.downFactor]).toEqual([3, 2]);
    expect(r.maxOutputSamples(320)).toBe(480);
    expect(r.maxOutputSamples(1)).toBe(2);
    expect(new Resampler(24000, 8000).maxOutputSamples(480)).toBe(160);
  });

  it('copies when the rates are equal', () => {
    const r = new Resampler(8000, 8000);
    const input = tone(440, 8000, 160, 9000);
    expect(Array.from(resampleAll(r, input))).toEqual(Array.from(input));
  });

  it('rejects unsupported rates with MEDIA_RESAMPLE_UNSUPPORTED', () => {
    for (const [a, b] of [
      [0, 8000],
      [8000, -1],
      [8000.5, 16000],
      [44099, 48000],
    ] as const) {
      expect(() => new Resampler(a, b)).toThrow(SwitchboardError);
      try {
        new Resampler(a, b);
      } catch (err) {
        expect((err as SwitchboardError).code).toBe('MEDIA_RESAMPLE_UNSUPPORTED');
      }
    }
  });

  it('throws RangeError when the output buffer is too small', () => {
    const r = new Resampler(8000, 16000);
    expect(() => r.process(new Int16Array(160), new Int16Array(319))).toThrow(RangeError);
  });

  it('handles empty input', () => {
    const r = new Resampler(8000, 24000);
    expect(r.process(new Int16Array(0), new Int16Array(0))).toBe(0);
  });

  it.each(PAIRS)('%i → %i Hz: random chunking gives output identical to one big chunk', (from, to) => {
    const random = rng(from + to);
    const input = new Int16Array(Math.round(from * 0.25));
    for (let i = 0; i < input.length; i++) input[i] = Math.round((random() * 2 - 1) * 20000);
    const whole = resampleAll(new Resampler(from, to), input);
    expect(whole.length).toBe(Math.round((input.length * to) / from));

    const r = new Resampler(from, to);
    const pieces = new Int16Array(whole.length + 16);
    let written = 0;
    for (let offset = 0; offset < input.length;) {
      // Sizes from 0 (empty call) to well beyond the internal block.
      const size = Math.min(input.length - offset, Math.floor(random() ** 3 * 2500));
      const chunk = input.subarray(offset, offset + size);
      written += r.process(chunk, pieces.subarray(written, written + r.maxOutputSamples(size)));
      offset += size;
    }
    expect(written).toBe(whole.length);
    expect(pieces.subarray(0, written)).toEqual(whole);
  });

  it('reset() restarts from a clean state', () => {
    const input = tone(700, 8000, 400, 12000);
    const r = new Resampler(8000, 24000);
    const first = resampleAll(r, input).slice();
    resampleAll(r, tone(300, 8000, 123, 5000));
    r.reset();
    expect(resampleAll(r, input)).toEqual(first);
  });

  it.each(PAIRS)('%i → %i Hz passes a 1 kHz tone with near-unity gain and high SNR', (from, to) => {
    const r = new Resampler(from, to);
    const out = resampleAll(r, tone(1000, from, from / 2, 16000));
    const skip = Math.ceil(r.delayOutputSamples * 2);
    const fit = sineFit(out, 1000, to, skip, out.length);
    expect(Math.abs(20 * Math.log10(fit.amplitude / 16000))).toBeLessThan(0.05);
    expect(fit.snrDb).toBeGreaterThan(60);
  });

  it('1 kHz survives 8 → 24 → 8 kHz with SNR ≥ 50 dB against the original (delay-aligned)', () => {
    const up = new Resampler(8000, 24000);
    const down = new Resampler(24000, 8000);
    const input = tone(1000, 8000, 8000, 16000);
    const out = resampleAll(down, resampleAll(up, input));
    // Both filters are linear-phase; the cascade delay in 8 kHz samples is the sum of both delays.
    const delay = (up.delayOutputSamples * up.downFactor) / up.upFactor + down.delayOutputSamples;
    // The delay may be fractional: compare with the analytic tone the input was sampled from, shifted by it.
    const skip = Math.ceil(2 * delay);
    let sig = 0;
    let err = 0;
    for (let i = skip; i < out.length; i++) {
      const ref = 16000 * Math.sin((2 * Math.PI * 1000 * (i - delay)) / 8000);
      sig += ref * ref;
      err += ((out[i] as number) - ref) ** 2;
    }
    expect(10 * Math.log10(sig / err)).toBeGreaterThanOrEqual(50);
    expect(sineFit(out, 1000, 8000, skip, out.length).snrDb).toBeGreaterThanOrEqual(50);
  });

  it.each([
    [24000, 8000, 6000],
    [16000, 8000, 5000],
    [48000, 8000, 7000],
    [48000, 16000, 12000],
    [24000, 16000, 10000],
  ])('%i → %i Hz attenuates an aliasing %i Hz tone by ≥ 60 dB', (from, to, freqHz) => {
    const input = tone(freqHz, from, from, 30000);
    const r = new Resampler(from, to);
    const out = resampleAll(r, input);
    const skip = Math.ceil(r.delayOutputSamples * 2);
    const attenuationDb = 20 * Math.log10(rmsOf(input) / rmsOf(out, skip));
    expect(attenuationDb).toBeGreaterThanOrEqual(60);
  });

  it('clips to int16 instead of wrapping', () => {
    // A full-scale square wave overshoots (Gibbs) after low-pass filtering.
    const input = new Int16Array(800);
    for (let i = 0; i < input.length; i++) input[i] = (i >> 3) % 2 === 0 ? 32767 : -32768;
    const out = resampleAll(new Resampler(8000, 48000), input);
    let maxJump = 0;
    for (let i = 1; i < out.length; i++)
      maxJump = Math.max(maxJump, Math.abs((out[i] as number) - (out[i - 1] as number)));
    expect(maxJump).toBeLessThan(40000);
    expect(Math.max(...out)).toBe(32767);
  });
});
