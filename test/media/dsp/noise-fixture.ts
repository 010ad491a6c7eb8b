/**
 * Noisy-speech scenes for the noise suppressor's tests, benchmark and end-to-end call: the caller fixtures
 * (test/fixtures/audio, espeak-ng speech) with pauses between utterances, mixed with stationary noise made
 * here from a seeded PRNG — pink noise (Paul Kellet's filter), a little brown noise (leaky integrator) and
 * 50 Hz mains hum with its 3rd and 5th harmonics — at a chosen SNR, at 8 or 16 kHz.
 *
 * SNR is speech power over the speech frames against the noise's mean power. Frames are 20 ms: a speech frame
 * is one where the clean speech is within 30 dB of its loudest frame; a pause frame is one where the clean
 * speech is silent (below −70 dBFS) in it and in the two frames either side (40 ms clear of any speech).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resampler } from '../../../src/media/dsp/resampler.js';
import { readWav } from '../../../src/media/wav.js';
import { lcg } from './echo-fixture.js';

const AUDIO = join(import.meta.dirname, '../../fixtures/audio');
const FRAME_MS = 20;

export interface NoisyScene {
  readonly sampleRateHz: number;
  readonly clean: Int16Array;
  readonly noise: Float64Array;
  readonly noisy: Int16Array;
  /** 20 ms frame indices. */
  readonly speechFrames: readonly number[];
  readonly pauseFrames: readonly number[];
  readonly frameSamples: number;
  /** The SNR actually mixed (speech frames against the noise), dB. */
  readonly snrDb: number;
}

export interface SceneOptions {
  readonly sampleRateHz: 8000 | 16000;
  readonly snrDb?: number;
  readonly seed?: number;
  /** Noise before the first utterance, after the last, and between utterances, ms. */
  readonly leadMs?: number;
  readonly pauseMs?: number;
}

/** A fixture at `rateHz` (resampled when its own rate differs). */
export function speechAt(name: string, rateHz: number): Int16Array {
  const wav = readWav(readFileSync(join(AUDIO, `${name}.wav`)));
  if (wav.sampleRateHz === rateHz) return wav.samples;
  const rs = new Resampler(wav.sampleRateHz, rateHz);
  const out = new Int16Array(rs.maxOutputSamples(wav.samples.length));
  return out.subarray(0, rs.process(wav.samples, out));
}

const UTTERANCES: Record<8000 | 16000, readonly string[]> = {
  8000: ['caller-billing-question', 'caller-account-number', 'caller-goodbye'],
  16000: ['caller-wideband-16k', 'caller-billing-question', 'caller-goodbye'],
};

/** Stationary noise of unit-ish scale (pink + brown + hum), `length` samples at `rateHz`. */
export function stationaryNoise(length: number, rateHz: number, seed: number): Float64Array {
  const rnd = lcg(seed);
  const out = new Float64Array(length);
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  let brown = 0;
  for (let i = 0; i < length; i++) {
    const white = rnd();
    // Paul Kellet's economy pink filter (−3 dB/octave within ±0.5 dB above ~10 Hz at 44.1 kHz; steeper
    // here at telephone rates, still a pink-like tilt).
    b0 = 0.99765 * b0 + white * 0.099046;
    b1 = 0.963 * b1 + white * 0.2965164;
    b2 = 0.57 * b2 + white * 1.0526913;
    const pink = (b0 + b1 + b2 + white * 0.1848) * 0.25;
    brown = (brown + 0.02 * white) / 1.02;
    const t = i / rateHz;
    const hum =
      0.12 * Math.sin(2 * Math.PI * 50 * t) +
      0.05 * Math.sin(2 * Math.PI * 150 * t + 0.4) +
      0.03 * Math.sin(2 * Math.PI * 250 * t + 1.1);
    out[i] = pink + 1.5 * brown + hum;
  }
  return out;
}

function framePower(pcm: ArrayLike<number>, frame: number, frameSamples: number): number {
  let e = 0;
  for (let i = frame * frameSamples; i < (frame + 1) * frameSamples; i++) e += (pcm[i] as number) ** 2;
  return e / frameSamples;
}

export function noisyScene(options: SceneOptions): NoisyScene {
  const rate = options.sampleRateHz;
  const snrTarget = options.snrDb ?? 6;
  const lead = Math.round((rate * (options.leadMs ?? 1000)) / 1000);
  const pause = Math.round((rate * (options.pauseMs ?? 1200)) / 1000);
  const frameSamples = (rate * FRAME_MS) / 1000;
  const parts = UTTERANCES[rate].map((n) => speechAt(n, rate));
  let length = 2 * lead + pause * (parts.length - 1);
  for (const p of parts) length += p.length;
  length = Math.ceil(length / frameSamples) * frameSamples;
  const clean = new Int16Array(length);
  let at = lead;
  for (const p of parts) {
    clean.set(p, at);
    at += p.length + pause;
  }
  const frames = length / frameSamples;
  const power = Array.from({ length: frames }, (_, f) => framePower(clean, f, frameSamples));
  const loudest = Math.max(...power);
  const speechFrames: number[] = [];
  const silent: boolean[] = [];
  const silence = (32768 * 10 ** (-70 / 20)) ** 2;
  for (let f = 0; f < frames; f++) {
    if ((power[f] as number) > loudest / 1000) speechFrames.push(f);
    silent.push((power[f] as number) < silence);
  }
  const pauseFrames: number[] = [];
  for (let f = 2; f < frames - 2; f++) {
    let clear = true;
    for (let d = -2; d <= 2; d++) clear &&= silent[f + d] === true;
    if (clear) pauseFrames.push(f);
  }
  const raw = stationaryNoise(length, rate, options.seed ?? 1234);
  let speechPower = 0;
  for (const f of speechFrames) speechPower += power[f] as number;
  speechPower /= speechFrames.length;
  let noisePower = 0;
  for (let i = 0; i < length; i++) noisePower += (raw[i] as number) ** 2;
  noisePower /= length;
  const scale = Math.sqrt(speechPower / noisePower / 10 ** (snrTarget / 10));
  const noise = new Float64Array(length);
  const noisy = new Int16Array(length);
  for (let i = 0; i < length; i++) {
    const n = (raw[i] as number) * scale;
    noise[i] = n;
    noisy[i] = Math.max(-32768, Math.min(32767, Math.round((clean[i] as number) + n)));
  }
  return {
    sampleRateHz: rate,
    clean,
    noise,
    noisy,
    speechFrames,
    pauseFrames,
    frameSamples,
    snrDb: snrTarget,
  };
}

/** Mean power of `signal` over `frames` (20 ms), the signal read `offset` samples later than the scene. */
export function powerOver(
  signal: ArrayLike<number>,
  frames: readonly number[],
  frameSamples: number,
  offset = 0,
): number {
  let e = 0;
  let n = 0;
  for (const f of frames) {
    for (let i = f * frameSamples; i < (f + 1) * frameSamples; i++) {
      const j = i + offset;
      if (j < 0 || j >= signal.length) continue;
      e += (signal[j] as number) ** 2;
      n++;
    }
  }
  return n === 0 ? 0 : e / n;
}

export const db = (ratio: number): number => 10 * Math.log10(ratio);

/**
 * Segmental SNR over the speech frames: the mean over frames of 10·log10(Σ clean² / Σ (clean − signal)²),
 * each frame's figure clamped to [−10, 35] dB (the usual limits, so a near-silent frame cannot dominate);
 * `signal` is read `offset` samples later than `clean`.
 */
export function segmentalSnrDb(
  clean: Int16Array,
  signal: ArrayLike<number>,
  frames: readonly number[],
  frameSamples: number,
  offset = 0,
): number {
  let sum = 0;
  for (const f of frames) {
    let s = 0;
    let e = 0;
    for (let i = f * frameSamples; i < (f + 1) * frameSamples; i++) {
      const c = clean[i] as number;
      const d = c - (signal[i + offset] ?? 0);
      s += c * c;
      e += d * d;
    }
    const snr = e === 0 ? 35 : 10 * Math.log10(s / e);
    sum += Math.max(-10, Math.min(35, snr));
  }
  return sum / frames.length;
}
