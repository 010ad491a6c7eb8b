import { describe, expect, it } from 'vitest';
import { EchoCanceller } from '../../../src/media/dsp/echo-canceller.js';
import { RealFft } from '../../../src/media/dsp/fft.js';
import { echoOf, energy, lcg, mix, noise, speech8k } from './echo-fixture.js';

const FRAME = 160;

/** Runs the canceller over whole signals in 20 ms frames; returns the output re-aligned (latency removed). */
function cancel(aec: EchoCanceller, capture: Int16Array, reference: Int16Array): Int16Array {
  const out = new Int16Array(capture.length + aec.latencySamples);
  const frameOut = new Int16Array(FRAME);
  const cap = new Int16Array(FRAME);
  const ref = new Int16Array(FRAME);
  for (let at = 0; at < out.length; at += FRAME) {
    cap.fill(0);
    ref.fill(0);
    cap.set(capture.subarray(at, Math.min(at + FRAME, capture.length)));
    ref.set(reference.subarray(at, Math.min(at + FRAME, reference.length)));
    aec.process(cap, ref, frameOut);
    out.set(frameOut.subarray(0, Math.min(FRAME, out.length - at)), at);
  }
  return out.subarray(aec.latencySamples, aec.latencySamples + capture.length);
}

/** ERLE in dB of output vs input over [from, to) samples, counting only 20 ms windows where the echo is audible. */
function erleDb(
  input: ArrayLike<number>,
  output: ArrayLike<number>,
  from: number,
  to: number,
  outBase = 0,
): number {
  let ein = 0;
  let eout = 0;
  for (let at = from; at + FRAME <= to; at += FRAME) {
    const wi = energy(input, at, at + FRAME);
    if (wi / FRAME < 100 ** 2) continue; // echo below −50 dBFS rms: not a measurement window
    ein += wi;
    eout += energy(output, at - outBase, at - outBase + FRAME);
  }
  return 10 * Math.log10(ein / Math.max(eout, 1));
}

/** ERLE of the echo alone: echo energy vs residual echo (output minus the near-end signal that was added). */
function echoErleDb(
  echo: ArrayLike<number>,
  output: ArrayLike<number>,
  added: ArrayLike<number>,
  from: number,
  to: number,
): number {
  const residual = new Float64Array(to - from);
  for (let i = from; i < to; i++) residual[i - from] = (output[i] as number) - (added[i] as number);
  return erleDb(echo, residual, from, to, from);
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>, from: number, to: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = from; i < to; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}

describe('RealFft', () => {
  it('matches a direct DFT and inverts exactly', () => {
    const fft = new RealFft(64);
    const rnd = lcg(3);
    const x = Float64Array.from({ length: 64 }, () => rnd() * 1000);
    const re = new Float64Array(33);
    const im = new Float64Array(33);
    fft.forward(x, re, im);
    for (let k = 0; k <= 32; k++) {
      let r = 0;
      let i = 0;
      for (let n = 0; n < 64; n++) {
        r += (x[n] as number) * Math.cos((2 * Math.PI * k * n) / 64);
        i -= (x[n] as number) * Math.sin((2 * Math.PI * k * n) / 64);
      }
      expect(re[k]).toBeCloseTo(r, 6);
      expect(im[k]).toBeCloseTo(i, 6);
    }
    const back = new Float64Array(64);
    fft.inverse(re, im, back);
    for (let n = 0; n < 64; n++) expect(back[n]).toBeCloseTo(x[n] as number, 9);
  });

  it('rejects sizes that are not powers of two', () => {
    expect(() => new RealFft(96)).toThrow(/power of two/);
  });
});

describe('EchoCanceller (G.168-style scenes at 8 kHz)', () => {
  const far = speech8k('agent-long-answer');

  it('removes a −12 dB, 40 ms line echo: ERLE and convergence time', () => {
    const echo = echoOf(far, { delayMs: 40, gainDb: -12 });
    const floor = noise(far.length, -60);
    const capture = mix(far.length, echo, floor);
    const aec = new EchoCanceller({ sampleRateHz: 8000, nlpDb: 0 });
    const out = cancel(aec, capture, far);
    // Convergence: the first 500 ms window whose ERLE reaches 20 dB (G.168 asks ≤ 1 s for its composite source;
    // on running speech with a 128 ms tail this filter takes about 2 s).
    let convergedMs = -1;
    for (let at = 0; at + 4000 <= far.length; at += 800) {
      if (echoErleDb(echo, out, floor, at, at + 4000) >= 20) {
        convergedMs = (at * 1000) / 8000;
        break;
      }
    }
    const steady = echoErleDb(echo, out, floor, 16000, far.length);
    const withNoise = erleDb(capture, out, 16000, far.length);
    console.log(
      `echo canceller: converged (ERLE ≥ 20 dB) after ${convergedMs} ms; steady ERLE ${steady.toFixed(1)} dB (${withNoise.toFixed(1)} dB counting the −60 dBFS noise floor)`,
    );
    expect(convergedMs).toBeGreaterThanOrEqual(0);
    expect(convergedMs).toBeLessThanOrEqual(3000);
    expect(steady).toBeGreaterThanOrEqual(25);
    // The guard may roll back a warm-up overshoot (twice the step) a few times; it must not keep firing.
    expect(aec.stats().divergenceResets).toBeLessThanOrEqual(5);
  });

  it('keeps the caller in double talk and does not diverge', () => {
    const near = speech8k('caller-billing-question');
    const echo = echoOf(far, { delayMs: 40, gainDb: -12 });
    // Far end talks throughout; the caller starts talking after 5 s (filter converged by then).
    const start = 40000;
    const nearShifted = new Float64Array(far.length);
    for (let i = 0; i < near.length && start + i < far.length; i++)
      nearShifted[start + i] = near[i] as number;
    const floor = noise(far.length, -60);
    const added = nearShifted.map((v, i) => v + (floor[i] as number));
    const capture = mix(far.length, echo, added);
    const aec = new EchoCanceller({ sampleRateHz: 8000, nlpDb: 0 });
    const out = cancel(aec, capture, far);
    const before = echoErleDb(echo, out, added, start - 8000, start);
    const end = Math.min(far.length, start + near.length);
    const corr = correlation(out, nearShifted, start, end);
    const corrRaw = correlation(capture, nearShifted, start, end);
    // After the double talk the echo is still cancelled (no divergence).
    const after = echoErleDb(echo, out, added, end + 800, far.length);
    console.log(
      `echo canceller double talk: correlation with the caller ${corr.toFixed(3)} (raw input ${corrRaw.toFixed(3)}); ERLE in the second before ${before.toFixed(1)} dB, after ${after.toFixed(1)} dB; double-talk blocks ${aec.stats().doubleTalkBlocks}`,
    );
    expect(corr).toBeGreaterThanOrEqual(0.8);
    expect(corr).toBeGreaterThan(corrRaw);
    expect(before).toBeGreaterThanOrEqual(20);
    expect(after).toBeGreaterThanOrEqual(before - 3); // no divergence during double talk
  });

  it('NLP: removes more of an echo-only residual, and leaves a caller on an echo-free line alone', () => {
    const echo = echoOf(far, { delayMs: 40, gainDb: -12 });
    const floor = noise(far.length, -60);
    const withEcho = mix(far.length, echo, floor);
    const linear = cancel(new EchoCanceller({ sampleRateHz: 8000, nlpDb: 0 }), withEcho, far);
    const nlp = cancel(new EchoCanceller({ sampleRateHz: 8000 }), withEcho, far);
    const linearDb = erleDb(withEcho, linear, 16000, far.length);
    const nlpDb = erleDb(withEcho, nlp, 16000, far.length);
    // A quiet caller (−10 dB under the agent) on a line that returns no echo, talking while the agent talks.
    // It starts after the canceller's warm-up (4 s of far-end talk on a line without echo, during which the
    // uplink is attenuated unless double talk is detected).
    const near = speech8k('caller-billing-question');
    const start = 40000;
    const quiet = new Float64Array(far.length);
    for (let i = 0; i < near.length; i++) quiet[start + i] = (near[i] as number) * 0.3;
    const lone = mix(far.length, quiet, floor);
    const out = cancel(new EchoCanceller({ sampleRateHz: 8000 }), lone, far);
    const end = start + near.length;
    const kept = correlation(out, quiet, start, end);
    const levelDb = 10 * Math.log10(energy(out, start, end) / energy(lone, start, end));
    console.log(
      `echo canceller NLP: ERLE with the −60 dBFS floor ${linearDb.toFixed(1)} → ${nlpDb.toFixed(1)} dB; quiet caller without echo: correlation ${kept.toFixed(3)}, level ${levelDb.toFixed(2)} dB`,
    );
    expect(nlpDb).toBeGreaterThan(linearDb + 3);
    // Undetected double talk (the caller under Geigel's threshold) trains the filter a little: the issue asks ≥ 0.8.
    expect(kept).toBeGreaterThanOrEqual(0.9);
    expect(Math.abs(levelDb)).toBeLessThanOrEqual(1);
  });

  it('passes the caller untouched while nothing was sent', () => {
    const near = speech8k('caller-goodbye');
    const aec = new EchoCanceller({ sampleRateHz: 8000 });
    const out = cancel(aec, near, new Int16Array(near.length));
    for (let i = 0; i < near.length; i++) if (out[i] !== near[i]) throw new Error(`sample ${i} changed`);
    expect(aec.stats().activeBlocks).toBe(0);
  });

  it('finds a bulk delay beyond its tail (250 ms: round trip + jitter buffers) and cancels behind it', () => {
    const echo = echoOf(far, { delayMs: 250, gainDb: -12 });
    const floor = noise(far.length, -60);
    const capture = mix(far.length, echo, floor);
    const aec = new EchoCanceller({ sampleRateHz: 8000, nlpDb: 0 });
    const out = cancel(aec, capture, far);
    const st = aec.stats();
    const steady = echoErleDb(echo, out, floor, 64000, far.length);
    console.log(
      `echo canceller: 250 ms echo → bulk delay ${st.bulkDelayMs} ms applied, path peak at ${st.echoDelayMs} ms, ${st.restarts} restart(s), ERLE ${steady.toFixed(1)} dB after 8 s`,
    );
    expect(st.echoDelayMs).toBeGreaterThanOrEqual(245);
    expect(st.echoDelayMs).toBeLessThanOrEqual(255);
    expect(steady).toBeGreaterThanOrEqual(20);
  });

  it('re-converges after the echo path changes', () => {
    const half = Math.floor(far.length / 2);
    const a = echoOf(far, { delayMs: 40, gainDb: -12 });
    const b = echoOf(far, { delayMs: 70, gainDb: -9, dispersion: [-0.3, 0.2] });
    const echo = new Float64Array(far.length);
    for (let i = 0; i < far.length; i++) echo[i] = i < half ? (a[i] as number) : (b[i] as number);
    const floor = noise(far.length, -60);
    const capture = mix(far.length, echo, floor);
    const aec = new EchoCanceller({ sampleRateHz: 8000, nlpDb: 0 });
    const out = cancel(aec, capture, far);
    const after = echoErleDb(echo, out, floor, half + 24000, far.length);
    console.log(`echo canceller: ERLE ${after.toFixed(1)} dB from 3 s after an echo path change`);
    expect(after).toBeGreaterThanOrEqual(15);
  });

  it('validates its options and frame lengths', () => {
    expect(() => new EchoCanceller({ sampleRateHz: 7000 })).toThrow(/sample rate/);
    expect(() => new EchoCanceller({ sampleRateHz: 8000, tailMs: 4 })).toThrow(/tailMs/);
    const aec = new EchoCanceller({ sampleRateHz: 16000 });
    expect(aec.blockSize).toBe(128);
    expect(() => aec.process(new Int16Array(320), new Int16Array(100), new Int16Array(320))).toThrow(
      /lengths/,
    );
  });
});
