/**
 * Echo scenes for the echo canceller tests and benchmark: far-end speech (what we sent) through a synthetic line
 * echo path (bulk delay, a dispersive hybrid response, attenuation), near-end speech and noise, at 8 kHz
 * (the 24 kHz agent samples are resampled).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resampler } from '../../../src/media/dsp/resampler.js';
import { readWav } from '../../../src/media/wav.js';

const AUDIO = join(import.meta.dirname, '../../fixtures/audio');

export function speech8k(...names: string[]): Int16Array {
  const parts = names.map((n) => {
    const wav = readWav(readFileSync(join(AUDIO, `${n}.wav`)));
    if (wav.sampleRateHz === 8000) return wav.samples;
    const rs = new Resampler(wav.sampleRateHz, 8000);
    const out = new Int16Array(rs.maxOutputSamples(wav.samples.length));
    return out.subarray(0, rs.process(wav.samples, out));
  });
  const out = new Int16Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Deterministic uniform noise in [-1, 1). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

export interface EchoPath {
  readonly delayMs: number;
  readonly gainDb: number;
  /** Extra taps after the main one (dispersion), relative amplitudes. */
  readonly dispersion?: readonly number[];
}

/** The echo of `far` through `path`, at 8 kHz. */
export function echoOf(far: Int16Array, path: EchoPath): Float64Array {
  const delay = Math.round((path.delayMs * 8000) / 1000);
  const g = 10 ** (path.gainDb / 20);
  const taps = [1, ...(path.dispersion ?? [0.35, -0.2, 0.1, -0.05])];
  const out = new Float64Array(far.length);
  for (let i = 0; i < far.length; i++) {
    let v = 0;
    for (let t = 0; t < taps.length; t++) {
      const j = i - delay - t;
      if (j >= 0) v += (taps[t] as number) * (far[j] as number);
    }
    out[i] = g * v;
  }
  return out;
}

export function mix(length: number, ...signals: ArrayLike<number>[]): Int16Array {
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) {
    let v = 0;
    for (const s of signals) v += i < s.length ? (s[i] as number) : 0;
    out[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
  }
  return out;
}

export function noise(length: number, dbfs: number, seed = 7): Float64Array {
  const rnd = lcg(seed);
  const amp = 32768 * 10 ** (dbfs / 20) * Math.sqrt(3); // uniform: rms = amp/√3
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = rnd() * amp;
  return out;
}

export function energy(x: ArrayLike<number>, from = 0, to = x.length): number {
  let e = 0;
  for (let i = from; i < to; i++) e += (x[i] as number) ** 2;
  return e;
}
