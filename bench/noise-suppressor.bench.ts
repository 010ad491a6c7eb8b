/**
 * Uplink noise suppressor cost per 20 ms frame (two 10 ms hops: one FFT and one inverse FFT each) at 8 kHz
 * (256-point FFT) and 16 kHz (512-point), on speech-like input over a noise floor; the per-call CPU share is
 * for a call that sends audio all the time (the suppressor runs on every uplink frame, speech or not).
 */
import { NoiseSuppressor } from '../src/media/dsp/noise-suppressor.js';
import { fmt, nsPerOp } from './util.js';

/** Speech-like bursts (low-passed noise, 4 Hz syllable envelope, on half the time) over white noise. */
function noisySpeech(samples: number, rateHz: number, seed = 1): Int16Array {
  const out = new Int16Array(samples);
  let s = seed >>> 0;
  let lp = 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
  for (let i = 0; i < samples; i++) {
    lp = 0.8 * lp + 0.2 * rnd();
    const talking = Math.floor((2 * i) / rateHz) % 2 === 0;
    const envelope = talking ? 0.55 + 0.45 * Math.sin((2 * Math.PI * 4 * i) / rateHz) : 0;
    out[i] = Math.round(lp * envelope * 12000 + rnd() * 600);
  }
  return out;
}

export async function run(print: (line: string) => void): Promise<void> {
  await Promise.resolve();
  for (const rate of [8000, 16000]) {
    const frame = rate / 50;
    const input = noisySpeech(rate * 4, rate);
    const frames = input.length / frame;
    const ns = new NoiseSuppressor({ sampleRateHz: rate });
    const out = new Int16Array(frame);
    let at = 0;
    const perFrame = nsPerOp(
      () => {
        const o = (at++ % frames) * frame;
        ns.process(input.subarray(o, o + frame), out);
      },
      10_000,
      1000,
    );
    const perCallUs = (perFrame * 50) / 1000; // µs of CPU per second of call
    print(
      `noise suppressor ${rate / 1000} kHz (FFT ${ns.fftSize}, latency ${(ns.latencySamples * 1000) / rate} ms): ${fmt(perFrame / 1000, 1)} µs per 20 ms frame → ${fmt(perCallUs, 0)} µs CPU per call-second (${fmt(perCallUs / 10_000, 3)} % of a core per call)`,
    );
  }
}
