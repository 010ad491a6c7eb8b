/**
 * Line echo canceller cost per 20 ms frame at 8 kHz and 16 kHz, for the default 128 ms tail and a 64 ms tail,
 * in its three regimes: far end silent (pass-through), far end talking (filter + adaptation), double talk
 * (filter, adaptation frozen). The per-call CPU share assumes the far end talks half the time.
 */
import { EchoCanceller } from '../src/media/dsp/echo-canceller.js';
import { fmt, nsPerOp } from './util.js';

/** Speech-like far end: low-passed noise (a voiced-speech-like tilt) with a 4 Hz syllable envelope, ~−20 dBFS. */
function voice(samples: number, rateHz: number, seed = 1): Int16Array {
  const out = new Int16Array(samples);
  let s = seed >>> 0;
  let lp = 0;
  for (let i = 0; i < samples; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    lp = 0.8 * lp + 0.2 * (s / 2 ** 31 - 1);
    const envelope = 0.55 + 0.45 * Math.sin((2 * Math.PI * 4 * i) / rateHz);
    out[i] = Math.round(lp * envelope * 12000);
  }
  return out;
}

function echo(far: Int16Array, rateHz: number, delayMs: number, gain: number): Int16Array {
  const d = Math.round((rateHz * delayMs) / 1000);
  const out = new Int16Array(far.length);
  for (let i = d; i < far.length; i++) out[i] = Math.round(gain * (far[i - d] as number));
  return out;
}

export async function run(print: (line: string) => void): Promise<void> {
  await Promise.resolve();
  for (const rate of [8000, 16000]) {
    const frame = rate / 50;
    const seconds = 4;
    const far = voice(rate * seconds, rate);
    const cap = echo(far, rate, 40, 0.25);
    const near = voice(rate * seconds, rate, 99); // a different "voice" for double talk
    const dt = new Int16Array(cap.length);
    for (let i = 0; i < dt.length; i++)
      dt[i] = Math.max(-32768, Math.min(32767, (cap[i] as number) + (near[i] as number)));
    const silence = new Int16Array(frame);
    const out = new Int16Array(frame);
    const frames = far.length / frame;
    for (const tailMs of [128, 64]) {
      const aec = new EchoCanceller({ sampleRateHz: rate, tailMs });
      let at = 0;
      const step = (capture: Int16Array, reference: Int16Array | undefined) => (): void => {
        const o = (at % frames) * frame;
        aec.process(capture.subarray(o, o + frame), reference?.subarray(o, o + frame), out);
        at++;
      };
      const talking = nsPerOp(step(cap, far), 4000, 500);
      const erle = aec.stats().erleDb;
      const doubleTalk = nsPerOp(step(dt, far), 2000, 200);
      const idle = nsPerOp(() => aec.process(cap.subarray(0, frame), silence, out), 20000, 2000);
      const perCallUs = (((talking + idle) / 2) * 50) / 1000; // µs of CPU per second of call
      print(
        `AEC ${rate / 1000} kHz, tail ${tailMs} ms (${aec.partitions} × ${aec.blockSize}): far end talking ${fmt(talking / 1000, 1)} µs/frame, double talk ${fmt(doubleTalk / 1000, 1)} µs/frame, far end silent ${fmt(idle / 1000, 2)} µs/frame → ${fmt(perCallUs, 0)} µs CPU per call-second (${fmt(perCallUs / 10_000, 3)} % of a core per call at 50 % far-end talk; ERLE ${fmt(erle, 1)} dB)`,
      );
    }
  }
}
