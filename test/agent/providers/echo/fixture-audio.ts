import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const AUDIO_DIR = fileURLToPath(new URL('../../../fixtures/audio/', import.meta.url));

/** Reads a PCM16 mono WAV fixture by walking its RIFF chunks to 'data'. */
export function readWavFixture(name: string): { pcm: Int16Array; sampleRateHz: number } {
  const file = readFileSync(AUDIO_DIR + name);
  if (file.toString('ascii', 0, 4) !== 'RIFF' || file.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`${name}: not a RIFF/WAVE file`);
  }
  let sampleRateHz = 0;
  let offset = 12;
  while (offset + 8 <= file.length) {
    const id = file.toString('ascii', offset, offset + 4);
    const size = file.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (
        file.readUInt16LE(body) !== 1 ||
        file.readUInt16LE(body + 2) !== 1 ||
        file.readUInt16LE(body + 14) !== 16
      ) {
        throw new Error(`${name}: expected PCM16 mono`);
      }
      sampleRateHz = file.readUInt32LE(body + 4);
    } else if (id === 'data') {
      const bytes = Math.min(size, file.length - body) & ~1;
      // Copy so the view is 2-byte aligned regardless of the Buffer pool offset.
      const pcm = new Int16Array(bytes / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = file.readInt16LE(body + i * 2);
      return { pcm, sampleRateHz };
    }
    offset = body + size + (size & 1);
  }
  throw new Error(`${name}: no data chunk`);
}

/** `leadMs` of silence, the signal, then `trailMs` of silence. */
export function padWithSilence(
  pcm: Int16Array,
  sampleRateHz: number,
  leadMs: number,
  trailMs: number,
): Int16Array {
  const lead = Math.round((sampleRateHz * leadMs) / 1000);
  const trail = Math.round((sampleRateHz * trailMs) / 1000);
  const out = new Int16Array(lead + pcm.length + trail);
  out.set(pcm, lead);
  return out;
}

/** A sine tone at `amplitude` (0..1 of full scale). */
export function tone(sampleRateHz: number, durationMs: number, freqHz = 440, amplitude = 0.3): Int16Array {
  const n = Math.round((sampleRateHz * durationMs) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++)
    out[i] = Math.round(Math.sin((2 * Math.PI * freqHz * i) / sampleRateHz) * amplitude * 32767);
  return out;
}

export function concat(...parts: Int16Array[]): Int16Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Int16Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
