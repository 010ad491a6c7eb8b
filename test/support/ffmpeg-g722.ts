/**
 * ffmpeg's G.722 encoder and decoder (libavcodec `g722`, written independently of ours and ITU-bit-exact for
 * the SB-ADPCM core) as the reference for test/media/codecs/g722.test.ts. Runs the Debian `ffmpeg` binary as
 * a subprocess on raw files; a missing or failing ffmpeg throws (the test fails, never skips).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ffmpeg-g722-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function ffmpeg(args: readonly string[]): Promise<void> {
  await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', ...args], { timeout: 60_000 });
}

/** 16 kHz mono PCM16 → G.722 octets, by `ffmpeg -c:a g722 -f g722` (its default, non-trellis encoder). */
export async function ffmpegEncodeG722(pcm: Int16Array): Promise<Buffer> {
  return withDir(async (dir) => {
    const input = join(dir, 'in.raw');
    const output = join(dir, 'out.g722');
    await writeFile(input, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    await ffmpeg([
      '-f',
      's16le',
      '-ar',
      '16000',
      '-ac',
      '1',
      '-i',
      input,
      '-c:a',
      'g722',
      '-f',
      'g722',
      output,
    ]);
    return readFile(output);
  });
}

/** G.722 octets → 16 kHz mono PCM16, by `ffmpeg -f g722 -i … -f s16le`. */
export async function ffmpegDecodeG722(codes: Uint8Array): Promise<Int16Array> {
  return withDir(async (dir) => {
    const input = join(dir, 'in.g722');
    const output = join(dir, 'out.raw');
    await writeFile(input, codes);
    await ffmpeg(['-f', 'g722', '-i', input, '-f', 's16le', '-ac', '1', output]);
    const bytes = await readFile(output);
    const pcm = new Int16Array(bytes.length >> 1);
    for (let i = 0; i < pcm.length; i++) pcm[i] = bytes.readInt16LE(2 * i);
    return pcm;
  });
}
