/**
 * PCM16 WAV (RIFF/WAVE) reading and writing, mono or stereo, for recordings, fixtures and replay.
 *
 * Reader: accepts WAVE_FORMAT_PCM (1) and WAVE_FORMAT_EXTENSIBLE (0xFFFE) with the PCM sub-format GUID,
 * 16 bits per sample; skips unknown chunks (LIST, fact, …) honouring the RIFF pad byte after odd-sized chunks.
 * A `data` size of 0 or 0xFFFFFFFF, or one running past the end of the file (a recording that was never
 * finalised, or a streamed WAV), is read as "whatever is there", rounded down to whole sample frames.
 *
 * Writer: canonical 44-byte header (PCM format 1). {@link WavWriter} streams a recording to disk and
 * rewrites the RIFF and data sizes on every flush, so the file is valid up to its last flush even if the
 * process dies.
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { SwitchboardError } from '../errors.js';

export interface WavAudio {
  sampleRateHz: number;
  channels: number;
  /** PCM16 samples, interleaved when stereo. */
  samples: Int16Array;
}

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** KSDATAFORMAT_SUBTYPE_PCM {00000001-0000-0010-8000-00AA00389B71}, without its first two bytes (the format tag). */
const PCM_SUBFORMAT_TAIL = Buffer.from([
  0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
]);
const HEADER_BYTES = 44;

function invalid(message: string): SwitchboardError {
  return new SwitchboardError('MEDIA_WAV_INVALID', message);
}

function checkFormat(sampleRateHz: number, channels: number): void {
  if (!Number.isInteger(sampleRateHz) || sampleRateHz <= 0 || sampleRateHz > 0x7fffffff) {
    throw invalid(`invalid sample rate ${sampleRateHz}`);
  }
  if (channels !== 1 && channels !== 2)
    throw invalid(`only mono and stereo are supported, got ${channels} channels`);
}

/** Copies little-endian PCM16 bytes into a fresh Int16Array (copying also fixes odd byte offsets). */
function pcm16FromBytes(bytes: Buffer): Int16Array {
  const samples = new Int16Array(bytes.length >> 1);
  for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
  return samples;
}

/**
 * Parses a PCM16 WAV file held in memory.
 * @throws SwitchboardError MEDIA_WAV_INVALID: not RIFF/WAVE, missing or truncated `fmt `, not 16-bit PCM,
 *   more than two channels, or no `data` chunk.
 */
export function readWav(buf: Buffer): WavAudio {
  if (
    buf.length < 12 ||
    buf.toString('latin1', 0, 4) !== 'RIFF' ||
    buf.toString('latin1', 8, 12) !== 'WAVE'
  ) {
    throw invalid('not a RIFF/WAVE file');
  }
  let format: { sampleRateHz: number; channels: number } | undefined;
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('latin1', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      format = parseFmt(buf.subarray(body, Math.min(buf.length, body + size)), size);
    } else if (id === 'data') {
      if (format === undefined) throw invalid('data chunk before fmt chunk');
      // Unfinalised or streamed files: size 0 or 0xFFFFFFFF, or larger than what was written.
      const declaredEnd = size === 0 || size === 0xffffffff ? buf.length : body + size;
      const end = Math.min(buf.length, declaredEnd);
      const frameBytes = 2 * format.channels;
      const usable = end - body - ((end - body) % frameBytes);
      return { ...format, samples: pcm16FromBytes(buf.subarray(body, body + usable)) };
    }
    // RIFF chunks are word-aligned: an odd-sized chunk is followed by one pad byte.
    offset = body + size + (size & 1);
  }
  throw invalid(format === undefined ? 'no fmt chunk' : 'no data chunk');
}

function parseFmt(fmt: Buffer, declaredSize: number): { sampleRateHz: number; channels: number } {
  if (declaredSize < 16 || fmt.length < 16) throw invalid(`fmt chunk truncated (${fmt.length} bytes)`);
  let tag = fmt.readUInt16LE(0);
  const channels = fmt.readUInt16LE(2);
  const sampleRateHz = fmt.readUInt32LE(4);
  const bitsPerSample = fmt.readUInt16LE(14);
  if (tag === WAVE_FORMAT_EXTENSIBLE) {
    // WAVEFORMATEXTENSIBLE: cbSize(2) validBits(2) channelMask(4) subFormat GUID(16) after the 16-byte base.
    if (fmt.length < 40) throw invalid(`WAVE_FORMAT_EXTENSIBLE fmt chunk truncated (${fmt.length} bytes)`);
    const guidTail = fmt.subarray(26, 40);
    if (!guidTail.equals(PCM_SUBFORMAT_TAIL)) throw invalid('WAVE_FORMAT_EXTENSIBLE sub-format is not PCM');
    tag = fmt.readUInt16LE(24);
  }
  if (tag !== WAVE_FORMAT_PCM) throw invalid(`not PCM (format tag 0x${tag.toString(16)})`);
  if (bitsPerSample !== 16) throw invalid(`not PCM16 (${bitsPerSample} bits per sample)`);
  checkFormat(sampleRateHz, channels);
  return { sampleRateHz, channels };
}

/** Reads and parses a PCM16 WAV file. */
export function readWavFile(path: string): WavAudio {
  return readWav(readFileSync(path));
}

function header(sampleRateHz: number, channels: number, dataBytes: number): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(Math.min(0xffffffff, 36 + dataBytes), 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRateHz, 24);
  h.writeUInt32LE(sampleRateHz * channels * 2, 28); // byte rate
  h.writeUInt16LE(channels * 2, 32); // block align
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(Math.min(0xffffffff, dataBytes), 40);
  return h;
}

/** Little-endian bytes of `samples` (a copy; WAV is little-endian whatever the host). */
function pcm16ToBytes(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i] as number, i * 2);
  return out;
}

/** Encodes PCM16 audio as a canonical WAV file. */
export function encodeWav(audio: WavAudio): Buffer {
  checkFormat(audio.sampleRateHz, audio.channels);
  if (audio.samples.length % audio.channels !== 0)
    throw invalid('sample count is not a whole number of frames');
  const data = pcm16ToBytes(audio.samples);
  // A RIFF data chunk of odd size would need a pad byte; PCM16 data is always even.
  return Buffer.concat([header(audio.sampleRateHz, audio.channels, data.length), data]);
}

/** Writes PCM16 audio to `path` as a canonical WAV file. */
export function writeWavFile(path: string, audio: WavAudio): void {
  writeFileSync(path, encodeWav(audio));
}

/**
 * Streaming WAV writer for recordings. append() buffers in memory; flush() writes the buffered PCM and
 * then rewrites the header sizes; close() flushes and closes. Synchronous file I/O keeps ordering trivial;
 * call flush() from a timer (not per frame) to bound the work.
 */
export class WavWriter {
  readonly sampleRateHz: number;
  readonly channels: number;
  #fd: number | undefined;
  #dataBytes = 0;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(path: string, options: { sampleRateHz: number; channels?: number }) {
    this.sampleRateHz = options.sampleRateHz;
    this.channels = options.channels ?? 1;
    checkFormat(this.sampleRateHz, this.channels);
    this.#fd = openSync(path, 'w');
    writeSync(this.#fd, header(this.sampleRateHz, this.channels, 0), 0, HEADER_BYTES, 0);
  }

  /** Bytes of PCM written to the file so far (excluding anything not yet flushed). */
  get dataBytes(): number {
    return this.#dataBytes;
  }

  /** Duration written to the file so far, in milliseconds. */
  get durationMs(): number {
    return (this.#dataBytes / (2 * this.channels) / this.sampleRateHz) * 1000;
  }

  /** Queues PCM16 samples (interleaved when stereo). Copies them, so the caller may reuse its buffer. */
  append(samples: Int16Array): void {
    if (this.#fd === undefined) throw invalid('WavWriter is closed');
    if (samples.length === 0) return;
    const bytes = pcm16ToBytes(samples);
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
  }

  /** Writes queued PCM and patches the RIFF and data sizes, so the file is complete up to this point. */
  flush(): void {
    const fd = this.#fd;
    if (fd === undefined || this.#pendingBytes === 0) return;
    const data = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending);
    writeSync(fd, data, 0, data.length, HEADER_BYTES + this.#dataBytes);
    this.#dataBytes += data.length;
    this.#pending = [];
    this.#pendingBytes = 0;
    const sizes = Buffer.alloc(4);
    sizes.writeUInt32LE(Math.min(0xffffffff, 36 + this.#dataBytes), 0);
    writeSync(fd, sizes, 0, 4, 4);
    sizes.writeUInt32LE(Math.min(0xffffffff, this.#dataBytes), 0);
    writeSync(fd, sizes, 0, 4, 40);
  }

  /** Flushes, syncs and closes the file. Idempotent. */
  close(): void {
    const fd = this.#fd;
    if (fd === undefined) return;
    this.flush();
    this.#fd = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
