/**
 * Audio helpers of the turn-taking tests (issue 14): clips written as WAV files for a profile, a pure tone's
 * share of a window's energy (Goertzel), and the mock's 24 kHz → 8 kHz reply decimation (openai-mock.ts).
 */
import { writeWavFile } from '../../src/media/wav.js';

/** A sine of `hz` at `dbfs` for `ms`, 8 kHz. */
export function tone(hz: number, dbfs: number, ms: number, rateHz = 8000): Int16Array {
  const amp = 32767 * 10 ** (dbfs / 20);
  const out = new Int16Array((rateHz * ms) / 1000);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * hz * i) / rateHz));
  return out;
}

/** Gaussian-ish white noise at `dbfs` RMS (sum of uniforms), 8 kHz. */
export function noise(dbfs: number, ms: number, rateHz = 8000): Int16Array {
  const rms = 32767 * 10 ** (dbfs / 20);
  const out = new Int16Array((rateHz * ms) / 1000);
  for (let i = 0; i < out.length; i++) {
    const u = Math.random() + Math.random() + Math.random() - 1.5; // variance 1/4
    out[i] = Math.round(2 * rms * u);
  }
  return out;
}

export function writeClip(path: string, samples: Int16Array, sampleRateHz = 8000): string {
  writeWavFile(path, { sampleRateHz, channels: 1, samples });
  return path;
}

/** 3:1 averaging decimation, as the OpenAI mock turns its 24 kHz replies into G.711. */
export function decimate24kTo8k(pcm24k: Int16Array): Int16Array {
  const out = new Int16Array(Math.floor(pcm24k.length / 3));
  for (let i = 0; i < out.length; i++)
    out[i] = Math.round((pcm24k[3 * i]! + pcm24k[3 * i + 1]! + pcm24k[3 * i + 2]!) / 3);
  return out;
}

/** The fraction of the window's energy at `hz` (Goertzel); 1 for a pure tone, ~0 for silence or speech. */
export function toneFraction(pcm: Int16Array, from: number, to: number, hz: number, rateHz = 8000): number {
  const n = Math.max(0, Math.min(to, pcm.length) - from);
  if (n === 0) return 0;
  const k = (2 * Math.PI * hz) / rateHz;
  const coeff = 2 * Math.cos(k);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = from; i < from + n; i++) {
    const x = pcm[i]!;
    energy += x * x;
    const s = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return energy === 0 ? 0 : (2 * power) / (n * energy);
}
