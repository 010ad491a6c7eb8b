import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { G722Codec, G722Decoder, G722Encoder } from '../../../src/media/codecs/g722.js';
import { readWavFile } from '../../../src/media/wav.js';
import { ffmpegDecodeG722, ffmpegEncodeG722 } from '../../support/ffmpeg-g722.js';

const RATE_HZ = 16000;
const FRAME_SAMPLES = 320;
const speech = readWavFile(join(import.meta.dirname, '../../fixtures/audio/caller-wideband-16k.wav'));

/** A deterministic pseudo-random sequence (LCG) so failures reproduce. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state >>> 16;
  };
}

function tone(frequencyHz: number, amplitude: number, samples: number): Int16Array {
  return Int16Array.from({ length: samples }, (_, i) =>
    Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / RATE_HZ)),
  );
}

/** Linear chirp 100 Hz → 7 kHz over `samples`: every frequency G.722 passes, both sub-bands. */
function chirp(amplitude: number, samples: number): Int16Array {
  const seconds = samples / RATE_HZ;
  return Int16Array.from({ length: samples }, (_, i) => {
    const t = i / RATE_HZ;
    return Math.round(amplitude * Math.sin(2 * Math.PI * (100 * t + ((6900 / seconds) * t * t) / 2)));
  });
}

/** Full-scale white noise: drives the predictors and every saturation limit. */
function noise(samples: number): Int16Array {
  const next = lcg(1);
  return Int16Array.from({ length: samples }, () => next() - 32768);
}

/** Full-scale square wave (±32767/−32768): clipping at the QMF output and in the reconstruction. */
function square(periodSamples: number, samples: number): Int16Array {
  return Int16Array.from({ length: samples }, (_, i) =>
    Math.floor((2 * i) / periodSamples) % 2 === 0 ? 32767 : -32768,
  );
}

/** Encodes through the Codec interface 20 ms at a time (state carried across packets), as a call does. */
function encodeFrames(codec: G722Codec, pcm: Int16Array): Buffer {
  const frames = Math.floor(pcm.length / FRAME_SAMPLES);
  const out = Buffer.alloc(frames * (FRAME_SAMPLES / 2));
  const packet = Buffer.alloc(FRAME_SAMPLES / 2);
  for (let f = 0; f < frames; f++) {
    const n = codec.encode(pcm.subarray(f * FRAME_SAMPLES, (f + 1) * FRAME_SAMPLES), packet);
    expect(n).toBe(160);
    packet.copy(out, f * 160);
  }
  return out;
}

function decodeFrames(codec: G722Codec, codes: Buffer): Int16Array {
  const frames = Math.floor(codes.length / 160);
  const out = new Int16Array(frames * FRAME_SAMPLES);
  const pcm = new Int16Array(FRAME_SAMPLES);
  for (let f = 0; f < frames; f++) {
    expect(codec.decode(codes.subarray(f * 160, (f + 1) * 160), pcm)).toBe(FRAME_SAMPLES);
    out.set(pcm, f * FRAME_SAMPLES);
  }
  return out;
}

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/**
 * SNR in dB of `decoded` against `reference` at the best lag in 0 … 64 samples (the two QMFs delay the signal
 * by 22 samples), skipping the first 100 ms (the quantizer's scale factor starts at its minimum).
 */
function snrDb(reference: Int16Array, decoded: Int16Array): { snrDb: number; lag: number } {
  let best = { snrDb: -Infinity, lag: -1 };
  const from = RATE_HZ / 10;
  for (let lag = 0; lag <= 64; lag++) {
    let signal = 0;
    let error = 0;
    for (let i = from; i + lag < decoded.length && i < reference.length; i++) {
      const r = reference[i] as number;
      const e = (decoded[i + lag] as number) - r;
      signal += r * r;
      error += e * e;
    }
    const db = 10 * Math.log10(signal / Math.max(error, 1));
    if (db > best.snrDb) best = { snrDb: db, lag };
  }
  return best;
}

const framed = (pcm: Int16Array): Int16Array =>
  pcm.subarray(0, Math.floor(pcm.length / FRAME_SAMPLES) * FRAME_SAMPLES);

it('the speech fixture is 16 kHz', () => expect(speech.sampleRateHz).toBe(RATE_HZ));

describe('G.722 against ffmpeg (an independent ITU-exact implementation)', () => {
  const signals: [string, Int16Array][] = [
    ['speech (espeak-ng, 16 kHz fixture)', framed(speech.samples)],
    ['chirp 100 Hz–7 kHz at −4 dBFS', chirp(20000, 2 * RATE_HZ)],
    ['1 kHz tone at −12 dBFS', tone(1000, 8000, RATE_HZ)],
    ['6 kHz tone (higher sub-band) at −6 dBFS', tone(6000, 16000, RATE_HZ)],
    ['full-scale white noise', noise(2 * RATE_HZ)],
    ['full-scale square wave', square(14, RATE_HZ)],
    ['digital silence', new Int16Array(RATE_HZ)],
  ];

  it.each(signals)('encoder bytes equal ffmpeg’s for %s', async (_name, pcm) => {
    const reference = await ffmpegEncodeG722(pcm);
    const ours = encodeFrames(new G722Codec(), pcm);
    expect(reference.length).toBe(pcm.length / 2);
    expect(firstDifference(ours, reference)).toBe(-1);
  });

  it.each(signals)('decoder PCM equals ffmpeg’s decode of the same bitstream for %s', async (_name, pcm) => {
    const codes = await ffmpegEncodeG722(pcm);
    const reference = await ffmpegDecodeG722(codes);
    const ours = decodeFrames(new G722Codec(), codes);
    expect(reference.length).toBe(ours.length);
    expect(firstDifference(ours, reference)).toBe(-1);
  });

  it('decoder PCM equals ffmpeg’s for arbitrary octets (codes no encoder emits, e.g. IL 0–3)', async () => {
    const next = lcg(7);
    const codes = Buffer.from(Array.from({ length: 16000 }, () => next() & 0xff));
    const reference = await ffmpegDecodeG722(codes);
    const ours = new Int16Array(codes.length * 2);
    expect(new G722Decoder().decode(codes, ours)).toBe(32000);
    expect(firstDifference(ours, reference)).toBe(-1);
  });
});

describe('G.722 round trip', () => {
  // Tones are periodic, so their best lag is only known modulo the period; speech and the chirp pin it.
  it.each([
    { name: 'speech', pcm: framed(speech.samples), minDb: 20, lag: 22 },
    { name: '1 kHz tone', pcm: tone(1000, 8000, RATE_HZ), minDb: 40, lag: undefined },
    { name: '6 kHz tone', pcm: tone(6000, 16000, RATE_HZ), minDb: 22, lag: undefined },
    { name: 'chirp', pcm: chirp(20000, 2 * RATE_HZ), minDb: 22, lag: 22 },
  ])('$name survives encode → decode with SNR above $minDb dB', ({ name, pcm, minDb, lag }) => {
    const codec = new G722Codec();
    const decoded = decodeFrames(codec, encodeFrames(codec, pcm));
    const measured = snrDb(pcm, decoded);
    console.log(
      `G.722 round trip, ${name}: SNR ${measured.snrDb.toFixed(1)} dB at a lag of ${measured.lag} samples`,
    );
    if (lag !== undefined) expect(measured.lag).toBe(lag);
    expect(measured.snrDb).toBeGreaterThan(minDb);
  });
});

describe('G722Codec', () => {
  it('is PT 9, 16 kHz audio on the 8000 Hz RTP clock, 320 samples ↔ 160 octets per 20 ms', () => {
    const c = new G722Codec();
    expect(c.name).toBe('G722');
    expect(c.payloadType).toBe(9);
    expect(c.sampleRateHz).toBe(16000);
    expect(c.clockRateHz).toBe(8000);
    expect(c.frameSamples(20)).toBe(320);
    expect(c.frameSamples(10)).toBe(160);
    expect(c.frameSamples(30)).toBe(480);
    expect(new G722Codec(118).payloadType).toBe(118);
  });

  it('truncates to the caller’s buffers and writes nothing beyond them', () => {
    const c = new G722Codec();
    const out = Buffer.alloc(100, 0xaa);
    expect(c.encode(tone(1000, 8000, 320), out.subarray(0, 50))).toBe(50);
    expect(out.subarray(50).every((b) => b === 0xaa)).toBe(true);
    expect(c.encode(tone(1000, 8000, 7), out)).toBe(3); // an odd last sample is not coded
    const pcm = new Int16Array(10).fill(1234);
    expect(c.decode(Buffer.alloc(160, 0xfa), pcm.subarray(0, 7))).toBe(6);
    expect(pcm[6]).toBe(1234);
    expect(c.decode(Buffer.alloc(0), pcm)).toBe(0);
  });

  it('keeps state per instance: two calls do not disturb each other', () => {
    const pcm = framed(speech.samples).subarray(0, 16000);
    const alone = encodeFrames(new G722Codec(), pcm);
    const a = new G722Codec();
    const b = new G722Codec();
    const interleavedA = Buffer.alloc(alone.length);
    const packet = Buffer.alloc(160);
    for (let f = 0; f < pcm.length / FRAME_SAMPLES; f++) {
      b.encode(noise(FRAME_SAMPLES), packet);
      a.encode(pcm.subarray(f * FRAME_SAMPLES, (f + 1) * FRAME_SAMPLES), packet);
      packet.copy(interleavedA, f * 160);
    }
    expect(interleavedA.equals(alone)).toBe(true);
  });

  it('reset() returns encoder and decoder to their initial state', () => {
    const pcm = tone(440, 10000, 3200);
    const enc = new G722Encoder();
    const first = Buffer.alloc(1600);
    const second = Buffer.alloc(1600);
    enc.encode(pcm, first);
    enc.reset();
    enc.encode(pcm, second);
    expect(second.equals(first)).toBe(true);
    const dec = new G722Decoder();
    const x = new Int16Array(3200);
    const y = new Int16Array(3200);
    dec.decode(first, x);
    dec.reset();
    dec.decode(first, y);
    expect(y).toEqual(x);
  });
});
