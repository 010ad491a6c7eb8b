import { resolve } from 'node:path';
import { readWavFile } from '../media/wav.js';
import { Resampler } from '../media/dsp/resampler.js';
import type { Codec } from '../media/codecs/codec.js';
import type { MediaLeg } from './media-leg.js';

/** Mono PCM prompts by path and rate, decoded once (prompts are few and small). */
export class PromptPlayer {
  readonly #baseDir: string;
  readonly #cache = new Map<string, Int16Array>();
  #seq = 0;

  constructor(baseDir = process.cwd()) {
    this.#baseDir = baseDir;
  }

  /** The prompt as mono PCM16 at `rateHz` (first channel of a stereo file). */
  pcm(path: string, rateHz: number): Int16Array {
    const key = `${path}@${rateHz}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const wav = readWavFile(resolve(this.#baseDir, path));
    let mono = wav.samples;
    if (wav.channels > 1) {
      mono = new Int16Array(Math.floor(wav.samples.length / wav.channels));
      for (let i = 0; i < mono.length; i++) mono[i] = wav.samples[i * wav.channels] ?? 0;
    }
    let pcm = mono;
    if (wav.sampleRateHz !== rateHz) {
      const r = new Resampler(wav.sampleRateHz, rateHz);
      pcm = new Int16Array(r.maxOutputSamples(mono.length));
      pcm = pcm.subarray(0, r.process(mono, pcm));
    }
    this.#cache.set(key, pcm);
    return pcm;
  }

  /** Encoded frames of one ptime each, the last padded with silence. */
  frames(path: string, codec: Codec, ptimeMs: number): Buffer[] {
    const pcm = this.pcm(path, codec.sampleRateHz);
    const n = codec.frameSamples(ptimeMs);
    const frame = new Int16Array(n);
    const out: Buffer[] = [];
    for (let offset = 0; offset < pcm.length; offset += n) {
      frame.fill(0);
      frame.set(pcm.subarray(offset, Math.min(offset + n, pcm.length)));
      const buf = Buffer.allocUnsafe(codec.name === 'opus' ? 1275 : n);
      const bytes = codec.encode(frame, buf);
      out.push(buf.subarray(0, bytes));
    }
    return out;
  }

  /** Queue the prompt on the leg's playout and resolve once it has been sent. */
  async play(media: MediaLeg, path: string): Promise<void> {
    const itemId = `prompt-${++this.#seq}`;
    for (const f of this.frames(path, media.codec, media.ptimeMs)) media.playout.enqueue(f, itemId, itemId);
    await media.playout.whenDrained();
  }
}

/** Plays `path` with `play` for at most `maxMs` (a drain deadline); a failing prompt is logged, not thrown. */
export async function playAtMost(
  play: (path: string) => Promise<void>,
  path: string,
  maxMs: number,
  log: { warn(obj: object, msg: string): void },
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    play(path).catch((err: unknown) => log.warn({ err }, 'goodbye prompt failed')),
    new Promise((resolve) => (timer = setTimeout(resolve, maxMs))),
  ]);
  clearTimeout(timer);
}
