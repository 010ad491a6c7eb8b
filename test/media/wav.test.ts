import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SwitchboardError } from '../../src/errors.js';
import { WavWriter, encodeWav, readWav, readWavFile, writeWavFile } from '../../src/media/wav.js';

const fixtures = join(import.meta.dirname, '../fixtures/audio');
const dir = mkdtempSync(join(tmpdir(), 'switchboard-wav-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function chunk(id: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body, body.length % 2 === 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

function riff(...chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...chunks]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

function fmtBody(tag: number, channels: number, rateHz: number, bits: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(tag, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(rateHz, 4);
  b.writeUInt32LE((rateHz * channels * bits) / 8, 8);
  b.writeUInt16LE((channels * bits) / 8, 12);
  b.writeUInt16LE(bits, 14);
  return b;
}

function extensibleFmt(channels: number, rateHz: number, subformatTag: number): Buffer {
  const ext = Buffer.alloc(24);
  ext.writeUInt16LE(22, 0); // cbSize
  ext.writeUInt16LE(16, 2); // valid bits
  ext.writeUInt32LE(channels === 1 ? 0x4 : 0x3, 4); // channel mask
  ext.writeUInt16LE(subformatTag, 8);
  Buffer.from([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]).copy(
    ext,
    10,
  );
  return Buffer.concat([fmtBody(0xfffe, channels, rateHz, 16), ext]);
}

function pcmBytes(samples: number[]): Buffer {
  const b = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => b.writeInt16LE(s, i * 2));
  return b;
}

function expectWavError(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SwitchboardError);
    expect((err as SwitchboardError).code).toBe('MEDIA_WAV_INVALID');
    expect((err as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected MEDIA_WAV_INVALID');
}

describe('readWav fixtures', () => {
  const files = readdirSync(fixtures).filter((f) => f.endsWith('.wav'));

  it.each(files)('%s: mono PCM16 at the documented rate', (name) => {
    const wav = readWavFile(join(fixtures, name));
    expect(wav.channels).toBe(1);
    // caller-* are 8 kHz (a phone line), caller-*-16k wideband (G.722), agent-* 24 kHz (fixtures README).
    const rate = name.endsWith('-16k.wav') ? 16000 : name.startsWith('caller-') ? 8000 : 24000;
    expect(wav.sampleRateHz).toBe(rate);
    expect(wav.samples.length).toBe((statSync(join(fixtures, name)).size - 44) / 2);
    expect(wav.samples.some((s) => Math.abs(s) > 1000)).toBe(true);
  });

  it('re-encodes a fixture byte for byte (canonical header)', () => {
    const bytes = readFileSync(join(fixtures, 'caller-goodbye.wav'));
    expect(encodeWav(readWav(bytes)).equals(bytes)).toBe(true);
  });
});

describe('readWav structure', () => {
  it('skips LIST and odd-sized chunks with their pad byte', () => {
    const buf = riff(
      chunk('LIST', Buffer.from('INFOISFT\x05\x00\x00\x00sox!\x00', 'latin1')),
      chunk('fmt ', fmtBody(1, 1, 8000, 16)),
      chunk('odd ', Buffer.from([1, 2, 3])),
      chunk('data', pcmBytes([1, -2, 32767, -32768])),
    );
    expect(readWav(buf)).toEqual({
      sampleRateHz: 8000,
      channels: 1,
      samples: new Int16Array([1, -2, 32767, -32768]),
    });
  });

  it('accepts WAVE_FORMAT_EXTENSIBLE with the PCM sub-format, stereo interleaved', () => {
    const buf = riff(chunk('fmt ', extensibleFmt(2, 48000, 1)), chunk('data', pcmBytes([10, -10, 20, -20])));
    const wav = readWav(buf);
    expect(wav.channels).toBe(2);
    expect(wav.sampleRateHz).toBe(48000);
    expect(Array.from(wav.samples)).toEqual([10, -10, 20, -20]);
  });

  it('rejects WAVE_FORMAT_EXTENSIBLE with a float sub-format', () => {
    const buf = riff(chunk('fmt ', extensibleFmt(1, 8000, 3)), chunk('data', pcmBytes([0])));
    expectWavError(() => readWav(buf), /not PCM/);
  });

  it.each([
    ['size 0', 0],
    ['size 0xFFFFFFFF', 0xffffffff],
    ['size past the end', 1000],
  ])('takes what is there when the data %s', (_label, size) => {
    const buf = riff(chunk('fmt ', fmtBody(1, 1, 16000, 16)), chunk('data', pcmBytes([5, 6, 7])));
    buf.writeUInt32LE(size, buf.length - 6 - 4);
    expect(Array.from(readWav(buf).samples)).toEqual([5, 6, 7]);
  });

  it('drops a trailing partial sample frame (odd byte, half a stereo frame)', () => {
    const mono = riff(chunk('fmt ', fmtBody(1, 1, 8000, 16)), chunk('data', pcmBytes([1, 2])));
    expect(Array.from(readWav(Buffer.concat([mono.subarray(0, mono.length - 1)])).samples)).toEqual([1]);
    const stereo = riff(chunk('fmt ', fmtBody(1, 2, 8000, 16)), chunk('data', pcmBytes([1, 2, 3])));
    expect(Array.from(readWav(stereo).samples)).toEqual([1, 2]);
  });

  it('handles an empty data chunk', () => {
    const buf = riff(chunk('fmt ', fmtBody(1, 1, 8000, 16)), chunk('data', Buffer.alloc(0)));
    expect(readWav(buf).samples.length).toBe(0);
  });
});

describe('readWav errors', () => {
  it.each([
    ['an empty buffer', Buffer.alloc(0), /not a RIFF/],
    ['RIFX / other containers', Buffer.from('RIFX\x00\x00\x00\x00WAVE', 'latin1'), /not a RIFF/],
    ['an AVI', Buffer.from('RIFF\x04\x00\x00\x00AVI ', 'latin1'), /not a RIFF/],
    ['no chunks at all', riff(), /no fmt chunk/],
    ['a truncated fmt', riff(chunk('fmt ', Buffer.alloc(10))), /fmt chunk truncated/],
    ['fmt cut off by end of file', riff(chunk('fmt ', fmtBody(1, 1, 8000, 16))).subarray(0, 30), /truncated/],
    ['8-bit PCM', riff(chunk('fmt ', fmtBody(1, 1, 8000, 8)), chunk('data', Buffer.alloc(2))), /not PCM16/],
    ['µ-law WAV', riff(chunk('fmt ', fmtBody(7, 1, 8000, 8)), chunk('data', Buffer.alloc(2))), /not PCM/],
    ['6 channels', riff(chunk('fmt ', fmtBody(1, 6, 8000, 16)), chunk('data', Buffer.alloc(12))), /channels/],
    ['no data chunk', riff(chunk('fmt ', fmtBody(1, 1, 8000, 16))), /no data chunk/],
    [
      'data before fmt',
      riff(chunk('data', Buffer.alloc(2)), chunk('fmt ', fmtBody(1, 1, 8000, 16))),
      /before fmt/,
    ],
  ])('rejects %s', (_label, buf, message) => {
    expectWavError(() => readWav(buf), message);
  });
});

describe('encodeWav / writeWavFile', () => {
  it('round-trips mono and stereo', () => {
    for (const channels of [1, 2]) {
      const samples = new Int16Array(2000);
      for (let i = 0; i < samples.length; i++) samples[i] = ((i * 7919) % 65536) - 32768;
      const audio = { sampleRateHz: 24000, channels, samples };
      expect(readWav(encodeWav(audio))).toEqual(audio);
      const path = join(dir, `rt-${channels}.wav`);
      writeWavFile(path, audio);
      expect(readWavFile(path)).toEqual(audio);
    }
  });

  it('encodes samples from a view at an odd byte offset', () => {
    const backing = Buffer.alloc(11);
    const view = new Int16Array(backing.buffer, backing.byteOffset + 2, 4).fill(-3);
    expect(
      Array.from(readWav(encodeWav({ sampleRateHz: 8000, channels: 1, samples: view })).samples),
    ).toEqual([-3, -3, -3, -3]);
  });

  it('rejects a partial stereo frame and bad formats', () => {
    expectWavError(
      () => encodeWav({ sampleRateHz: 8000, channels: 2, samples: new Int16Array(3) }),
      /whole number/,
    );
    expectWavError(
      () => encodeWav({ sampleRateHz: 0, channels: 1, samples: new Int16Array(0) }),
      /sample rate/,
    );
    expectWavError(
      () => encodeWav({ sampleRateHz: 8000, channels: 3, samples: new Int16Array(0) }),
      /channels/,
    );
  });
});

describe('WavWriter', () => {
  it('is readable after every flush and complete after close', () => {
    const path = join(dir, 'rec.wav');
    const w = new WavWriter(path, { sampleRateHz: 8000 });
    expect(readWavFile(path).samples.length).toBe(0);
    const frame = new Int16Array(160);
    for (let n = 0; n < 3; n++) {
      frame.fill(n + 1);
      w.append(frame);
    }
    // Not flushed yet: the header still says 0 and the reader takes what is there (nothing).
    expect(readWavFile(path).samples.length).toBe(0);
    w.flush();
    expect(w.durationMs).toBe(60);
    const mid = readWavFile(path);
    expect(mid.samples.length).toBe(480);
    expect(mid.samples[479]).toBe(3);
    w.append(new Int16Array(80).fill(-9));
    w.append(new Int16Array(0));
    w.close();
    w.close();
    const bytes = readFileSync(path);
    expect(bytes.readUInt32LE(4)).toBe(bytes.length - 8);
    expect(bytes.readUInt32LE(40)).toBe(bytes.length - 44);
    const done = readWav(bytes);
    expect(done.samples.length).toBe(560);
    expect(done.samples[559]).toBe(-9);
    expect(() => w.append(frame)).toThrow(SwitchboardError);
  });

  it('writes stereo', () => {
    const path = join(dir, 'stereo.wav');
    const w = new WavWriter(path, { sampleRateHz: 16000, channels: 2 });
    w.append(new Int16Array([1, 2, 3, 4]));
    w.close();
    expect(readWavFile(path)).toEqual({
      sampleRateHz: 16000,
      channels: 2,
      samples: new Int16Array([1, 2, 3, 4]),
    });
  });
});
