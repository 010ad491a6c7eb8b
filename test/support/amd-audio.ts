/**
 * Audio for the tone-detector and answering-machine tests (issue 18), made on the fly: sine tones, DTMF, SIT
 * and fax tones generated in code, and speech from espeak-ng (resampled by sox) written to a temp dir.
 * Everything is mono PCM16 at 8 or 16 kHz, optionally passed through G.711 µ-law as a phone line would.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ULAW_DECODE_TABLE, ULAW_ENCODE_TABLE } from '../../src/media/codecs/g711.js';
import { readWav } from '../../src/media/wav.js';

export type Rate = 8000 | 16000;

/** One or more summed sine tones at `dbfs` each (RMS of one tone), `ms` long. */
export function tone(rate: Rate, ms: number, frequenciesHz: readonly number[], dbfs = -12): Int16Array {
  const n = Math.round((rate * ms) / 1000);
  const amp = 32768 * 10 ** (dbfs / 20) * Math.SQRT2;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const f of frequenciesHz) s += Math.sin((2 * Math.PI * f * i) / rate);
    out[i] = Math.max(-32768, Math.min(32767, Math.round(amp * s)));
  }
  return out;
}

export function silence(rate: Rate, ms: number): Int16Array {
  return new Int16Array(Math.round((rate * ms) / 1000));
}

export function concat(parts: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Adds seeded white noise at `dbfs` (a quiet line), in place. */
export function addNoise(pcm: Int16Array, dbfs: number, seed = 1): Int16Array {
  let x = seed >>> 0;
  const amp = 32768 * 10 ** (dbfs / 20) * Math.sqrt(3);
  for (let i = 0; i < pcm.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const r = (x / 4294967296) * 2 - 1;
    pcm[i] = Math.max(-32768, Math.min(32767, Math.round((pcm[i] as number) + amp * r)));
  }
  return pcm;
}

/** µ-law encode then decode, in place (an 8 kHz phone line's quantisation). */
export function ulawLine(pcm: Int16Array): Int16Array {
  for (let i = 0; i < pcm.length; i++) {
    pcm[i] = ULAW_DECODE_TABLE[ULAW_ENCODE_TABLE[(pcm[i] as number) & 0xffff] as number] as number;
  }
  return pcm;
}

const DTMF: Record<string, readonly [number, number]> = {
  '1': [697, 1209],
  '2': [697, 1336],
  '3': [697, 1477],
  '4': [770, 1209],
  '5': [770, 1336],
  '6': [770, 1477],
  '7': [852, 1209],
  '8': [852, 1336],
  '9': [852, 1477],
  '0': [941, 1336],
  '*': [941, 1209],
  '#': [941, 1477],
};

/** DTMF digits, `onMs` tone / `offMs` gap each, both tones at `dbfs`. */
export function dtmf(rate: Rate, digits: string, onMs = 100, offMs = 60, dbfs = -14): Int16Array {
  const parts: Int16Array[] = [];
  for (const d of digits) {
    const pair = DTMF[d];
    if (pair === undefined) throw new Error(`not a DTMF digit: ${d}`);
    parts.push(tone(rate, onMs, pair, dbfs), silence(rate, offMs));
  }
  return concat(parts);
}

/** SIT (ANSI T1.401 "vacant code" order: short, long, long segments here chosen by `lengthsMs`). */
export function sit(rate: Rate, lengthsMs: readonly [number, number, number] = [274, 274, 380]): Int16Array {
  return concat([
    tone(rate, lengthsMs[0], [913.8], -14),
    tone(rate, lengthsMs[1], [1370.6], -14),
    tone(rate, lengthsMs[2], [1776.7], -14),
  ]);
}

let speechDir: string | undefined;

/** espeak-ng speech at `rate` (sox resamples espeak's 22.05 kHz), `wpm` words per minute. */
export function speak(rate: Rate, text: string, voice = 'en-us', wpm = 160): Int16Array {
  speechDir ??= mkdtempSync(join(tmpdir(), 'amd-speech-'));
  const raw = join(speechDir, `${Math.random().toString(36).slice(2)}.wav`);
  const out = `${raw}.${rate}.wav`;
  execFileSync('espeak-ng', ['-v', voice, '-s', String(wpm), '-w', raw, text]);
  execFileSync('sox', [raw, '-r', String(rate), '-b', '16', '-c', '1', out, 'gain', '-n', '-6']);
  return readWav(readFileSync(out)).samples;
}

/** Feeds `pcm` to `sink` in 20 ms frames (subarray views: what the uplink hands a listener). */
export function feedFrames(rate: Rate, pcm: Int16Array, sink: (frame: Int16Array) => void): void {
  const frame = rate / 50;
  for (let at = 0; at < pcm.length; at += frame) sink(pcm.subarray(at, Math.min(pcm.length, at + frame)));
}
