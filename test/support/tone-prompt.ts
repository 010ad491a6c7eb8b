/**
 * Pure tones for scripted provider replies and prompts (the RTP listener classes what it hears by tone), and a
 * temporary WAV prompt of one tone, for the provider-loss, failover and rotation tests.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeWav } from '../../src/media/wav.js';

/** `ms` of a sine at `hz`, amplitude 8000, sampled at `rateHz`. */
export function tone(hz: number, ms: number, rateHz: number): Int16Array {
  const pcm = new Int16Array(Math.round((ms * rateHz) / 1000));
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rateHz));
  return pcm;
}

/** A fresh temporary directory holding `prompt.wav`: `ms` of `hz` at 8 kHz. Remove `dir` when done. */
export async function tonePrompt(
  prefix: string,
  hz: number,
  ms: number,
): Promise<{ dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const path = join(dir, 'prompt.wav');
  await writeFile(path, encodeWav({ sampleRateHz: 8000, channels: 1, samples: tone(hz, ms, 8000) }));
  return { dir, path };
}
