/**
 * Resampler throughput (× real time, 20 s of a speech-like signal in 20 ms chunks) and quality (alias
 * rejection of a 6 kHz tone 24 → 8 kHz; SNR of a 1 kHz tone after 8 → 24 → 8 kHz), ours beside
 * libsamplerate (WASM build, @alexanderolsen/libsamplerate-js). Both sides take and return int16, so the
 * float conversions libsamplerate needs are counted; both outputs are rounded to int16 before measuring.
 */
import lsr from '@alexanderolsen/libsamplerate-js';
import { Resampler, type ResamplerOptions } from '../src/media/dsp/resampler.js';
import { fmt } from './util.js';

interface Int16Converter {
  /** Resamples one chunk; returns samples written to `out`. */
  process(input: Int16Array, out: Int16Array): number;
  close(): void;
}

interface Contender {
  label: string;
  make(fromHz: number, toHz: number): Promise<Int16Converter>;
}

function ours(label: string, options: ResamplerOptions = {}): Contender {
  return {
    label,
    make: (fromHz, toHz) => {
      const r = new Resampler(fromHz, toHz, options);
      return Promise.resolve({ process: (i, o) => r.process(i, o), close: () => undefined });
    },
  };
}

function libsamplerate(label: string, converterType: 0 | 1 | 2): Contender {
  return {
    label,
    async make(fromHz, toHz) {
      const src = await lsr.create(1, fromHz, toHz, { converterType });
      // Preallocated float staging, as a careful caller would do.
      const fin = new Float32Array(48000);
      const fout = new Float32Array(48000 * 7);
      const outLength = { frames: 0 };
      return {
        process(input, out) {
          const n = input.length;
          for (let i = 0; i < n; i++) fin[i] = (input[i] as number) / 32768;
          src.full(fin.subarray(0, n), fout, outLength);
          const m = Math.min(outLength.frames, out.length);
          for (let i = 0; i < m; i++) {
            const v = Math.round((fout[i] as number) * 32768);
            out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
          }
          return m;
        },
        close: () => src.destroy(),
      };
    },
  };
}

const CONTENDERS: Contender[] = [
  ours('switchboard (80 dB, default)'),
  ours('switchboard (100 dB)', { stopbandDb: 100 }),
  libsamplerate('libsamplerate SINC_FASTEST', lsr.ConverterType.SRC_SINC_FASTEST as 2),
  libsamplerate('libsamplerate SINC_MEDIUM', lsr.ConverterType.SRC_SINC_MEDIUM_QUALITY as 1),
  libsamplerate('libsamplerate SINC_BEST', lsr.ConverterType.SRC_SINC_BEST_QUALITY as 0),
];

const RATIOS: [number, number][] = [
  [8000, 16000],
  [8000, 24000],
  [24000, 8000],
  [16000, 8000],
  [16000, 24000],
  [24000, 16000],
  [48000, 8000],
];

/** Voiced-speech-like signal: harmonics of a gliding 90–260 Hz pitch with a syllable envelope, plus noise. */
function speechLike(rateHz: number, seconds: number): Int16Array {
  const n = rateHz * seconds;
  const out = new Int16Array(n);
  let phase = 0;
  let seed = 12345;
  const maxHarmonic = (f0: number) => Math.floor(Math.min(rateHz / 2 - 200, 7000) / f0);
  for (let i = 0; i < n; i++) {
    const t = i / rateHz;
    const f0 = 175 + 85 * Math.sin(2 * Math.PI * 0.7 * t);
    phase += (2 * Math.PI * f0) / rateHz;
    let v = 0;
    const hs = maxHarmonic(f0);
    for (let h = 1; h <= hs; h++) v += Math.sin(h * phase) / (h * 0.6 + 0.4);
    seed = (seed * 1103515245 + 12345) >>> 0;
    const noise = (seed / 4294967296 - 0.5) * 0.3;
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t);
    out[i] = Math.round((v * envelope + noise) * 3000);
  }
  return out;
}

async function throughput(c: Contender, fromHz: number, toHz: number, signal: Int16Array): Promise<number> {
  const conv = await c.make(fromHz, toHz);
  const chunk = fromHz / 50; // 20 ms
  const out = new Int16Array(Math.ceil((chunk * toHz) / fromHz) + 64);
  let best = Infinity;
  for (let rep = 0; rep < 2; rep++) {
    const start = process.hrtime.bigint();
    for (let off = 0; off + chunk <= signal.length; off += chunk)
      conv.process(signal.subarray(off, off + chunk), out);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  conv.close();
  return signal.length / fromHz / best;
}

async function resampleAll(
  c: Contender,
  fromHz: number,
  toHz: number,
  input: Int16Array,
): Promise<Int16Array> {
  const conv = await c.make(fromHz, toHz);
  const chunk = fromHz / 50;
  const out = new Int16Array(Math.ceil((input.length * toHz) / fromHz) + 4096);
  let written = 0;
  for (let off = 0; off < input.length; off += chunk) {
    written += conv.process(input.subarray(off, off + chunk), out.subarray(written));
  }
  conv.close();
  return out.subarray(0, written);
}

function tone(freqHz: number, rateHz: number, seconds: number, amplitude: number): Int16Array {
  const out = new Int16Array(rateHz * seconds);
  for (let i = 0; i < out.length; i++)
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freqHz * i) / rateHz));
  return out;
}

function rms(x: Int16Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / Math.max(1, x.length));
}

/** SNR (dB) of the best-fitting sinusoid at `freqHz` (plus DC) against the residual: delay-independent. */
function sineSnrDb(x: Int16Array, freqHz: number, rateHz: number): number {
  const w = (2 * Math.PI * freqHz) / rateHz;
  // Projection on sin/cos is exact enough over a whole number of periods; DC removed by the mean.
  const periods = Math.floor((x.length * freqHz) / rateHz);
  const n = Math.round((periods * rateHz) / freqHz);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i] as number;
  mean /= n;
  let s = 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    s += ((x[i] as number) - mean) * Math.sin(w * i);
    c += ((x[i] as number) - mean) * Math.cos(w * i);
  }
  const a = (2 * s) / n;
  const b = (2 * c) / n;
  let sig = 0;
  let res = 0;
  for (let i = 0; i < n; i++) {
    const fit = a * Math.sin(w * i) + b * Math.cos(w * i) + mean;
    sig += (fit - mean) ** 2;
    res += ((x[i] as number) - fit) ** 2;
  }
  return 10 * Math.log10(sig / res);
}

/** Drops the first and last quarter second (filter start-up and any tail latency). */
function steady(x: Int16Array, rateHz: number): Int16Array {
  return x.subarray(rateHz / 4, x.length - rateHz / 4);
}

export async function run(print: (line: string) => void): Promise<void> {
  const seconds = 20;
  const signals = new Map<number, Int16Array>();
  const signal = (rateHz: number): Int16Array => {
    let s = signals.get(rateHz);
    if (s === undefined) signals.set(rateHz, (s = speechLike(rateHz, seconds)));
    return s;
  };

  print(
    `Throughput, × real time (${seconds} s speech-like signal, 20 ms chunks, int16 in/out; higher is better):`,
  );
  const header = ['ratio'.padEnd(14), ...CONTENDERS.map((c) => c.label.padStart(30))].join('');
  print(`  ${header}`);
  for (const [fromHz, toHz] of RATIOS) {
    const cells: string[] = [];
    for (const c of CONTENDERS)
      cells.push(`${fmt(await throughput(c, fromHz, toHz, signal(fromHz)), 0)}×`.padStart(30));
    print(`  ${`${fromHz / 1000}→${toHz / 1000} kHz`.padEnd(14)}${cells.join('')}`);
  }

  print('Quality, int16 output (an all-zero output is reported as "floor": residual < ½ LSB, > 97 dB):');
  print(
    `  ${'contender'.padEnd(32)}${'6 kHz alias 24→8 dB'.padStart(22)}${'worst 4.1–11.9 kHz dB'.padStart(24)}` +
      `${'1 kHz 8→24→8 SNR dB'.padStart(22)}${'3.4 kHz 24→8 gain dB'.padStart(22)}`,
  );
  const amplitude = 30000;
  const rejection = async (c: Contender, freqHz: number): Promise<number> => {
    const input = tone(freqHz, 24000, 1, amplitude);
    const out = steady(await resampleAll(c, 24000, 8000, input), 8000);
    const r = rms(out);
    return r === 0 ? Infinity : 20 * Math.log10(rms(input) / r);
  };
  const show = (db: number): string => (db === Infinity ? 'floor' : fmt(db, 1));
  const sine = tone(1000, 8000, 2, 16000);
  for (const c of CONTENDERS) {
    let worst = Infinity;
    let worstHz = 0;
    for (let f = 4100; f < 12000; f += 200) {
      const db = await rejection(c, f);
      if (db < worst) [worst, worstHz] = [db, f];
    }
    const up = await resampleAll(c, 8000, 24000, sine);
    const round = steady(await resampleAll(c, 24000, 8000, up), 8000);
    const edgeGainDb = -(await rejection(c, 3400));
    print(
      `  ${c.label.padEnd(32)}${show(await rejection(c, 6000)).padStart(22)}` +
        `${`${show(worst)}${worst === Infinity ? '' : ` @${worstHz / 1000}k`}`.padStart(24)}` +
        `${fmt(sineSnrDb(round, 1000, 8000), 1).padStart(22)}${fmt(edgeGainDb, 2).padStart(22)}`,
    );
  }
  const r = new Resampler(8000, 24000);
  const d = new Resampler(24000, 8000);
  print(
    `  switchboard taps/output: 8→24 ${r.tapsPerOutput}, 24→8 ${d.tapsPerOutput}; ` +
      `delay 8→24 ${fmt((r.delayOutputSamples / 24000) * 1000, 2)} ms, 24→8 ${fmt((d.delayOutputSamples / 8000) * 1000, 2)} ms`,
  );
}
