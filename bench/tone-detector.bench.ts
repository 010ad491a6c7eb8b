/**
 * Tone detector (AMD beeps, fax, SIT) cost per 20 ms frame at 8 and 16 kHz: two 10 ms hops, each a 20 ms
 * Goertzel bank of 77 bins (300–2200 Hz) plus one refined bin. Input is a tone over noise, the worst case
 * (silent windows skip the bank); the per-call figure is for the first seconds of an outbound call, the only
 * time AMD listens.
 */
import { ToneDetector } from '../src/media/dsp/tone-detector.js';
import { fmt, nsPerOp } from './util.js';

function toneOverNoise(samples: number, rateHz: number): Int16Array {
  const out = new Int16Array(samples);
  let s = 1;
  for (let i = 0; i < samples; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = Math.round(6000 * Math.sin((2 * Math.PI * 1000 * i) / rateHz) + (s / 2 ** 32 - 0.5) * 200);
  }
  return out;
}

export async function run(print: (line: string) => void): Promise<void> {
  await Promise.resolve();
  for (const rate of [8000, 16000] as const) {
    const frame = rate / 50;
    const input = toneOverNoise(rate * 4, rate);
    const frames = input.length / frame;
    const detector = new ToneDetector({ sampleRateHz: rate, onTone: () => undefined });
    let at = 0;
    const perFrame = nsPerOp(
      () => {
        const o = (at++ % frames) * frame;
        detector.process(input.subarray(o, o + frame));
      },
      10_000,
      1000,
    );
    const perCallUs = (perFrame * 50) / 1000;
    print(
      `tone detector ${rate / 1000} kHz: ${fmt(perFrame / 1000, 1)} µs per 20 ms frame → ${fmt(perCallUs, 0)} µs CPU per call-second (${fmt(perCallUs / 10_000, 3)} % of a core while AMD listens)`,
    );
  }
}
