/**
 * ITU-T G.711 µ-law (PCMU) and A-law (PCMA), bit-exact with the ITU reference implementation
 * (ITU-T G.191 Software Tool Library, `g711.c`: `ulaw_compress`/`alaw_compress`/`*_expand`).
 *
 * The reference takes 16-bit linear input and derives the magnitude of a negative sample as its one's
 * complement (`~x`), not `-x`: G.711's decision levels sit on half-steps of the 13/14-bit grid, so a negative
 * sample exactly on a decision level belongs to the smaller magnitude. Several popular ports (e.g. the
 * `alawmulaw` package) use `-x` and differ from the reference on exactly those tie points; see
 * test/media/codecs/g711.test.ts.
 *
 * Decoding uses 256-entry tables. Encoding uses a 64 Ki-entry table indexed by the 16-bit sample, which
 * measured faster than the segment search (bench/g711.bench.ts prints both).
 */
import type { Codec } from './codec.js';

/** G.711 codes a single 8 kHz channel, one byte per sample (RFC 3551 §4.5.14). */
const G711_RATE_HZ = 8000;

/**
 * µ-law encode of one 16-bit sample by segment search (G.191 `ulaw_compress`). Used to build the table and
 * by the benchmark; prefer {@link pcmToUlaw} for bulk work.
 */
export function encodeUlawSample(sample: number): number {
  // 14-bit magnitude plus the 33 offset between the µ-law and A-law thresholds; one's complement for negatives.
  let mag = (sample < 0 ? ~sample >> 2 : sample >> 2) + 33;
  if (mag > 0x1fff) mag = 0x1fff;
  // Segment number 1..8: position of the leading one above bit 5.
  const seg = 33 - Math.clz32(mag >> 6);
  const code = ((8 - seg) << 4) | (15 - ((mag >> seg) & 0x0f));
  return sample >= 0 ? code | 0x80 : code;
}

/** µ-law decode of one code (G.191 `ulaw_expand`), 16-bit left-justified result. */
export function decodeUlawSample(code: number): number {
  const inv = ~code & 0xff;
  const exponent = (inv >> 4) & 0x07;
  const mantissa = inv & 0x0f;
  const step = 4 << (exponent + 1);
  const mag = (0x80 << exponent) + step * mantissa + step / 2 - 4 * 33;
  return code < 0x80 ? -mag | 0 : mag; // `| 0`: −0 (code 0x7F) decodes to plain 0
}

/** A-law encode of one 16-bit sample by segment search (G.191 `alaw_compress`). */
export function encodeAlawSample(sample: number): number {
  // 12-bit magnitude; one's complement for negatives as in the reference.
  let ix = sample < 0 ? ~sample >> 4 : sample >> 4;
  if (ix > 15) {
    let exponent = 1;
    while (ix > 16 + 15) {
      ix >>= 1;
      exponent++;
    }
    ix = ix - 16 + (exponent << 4);
  }
  if (sample >= 0) ix |= 0x80;
  // Even-bit inversion (G.711 §2.3 note) keeps idle channels from producing long runs of zeros.
  return ix ^ 0x55;
}

/** A-law decode of one code (G.191 `alaw_expand`), 16-bit left-justified result. */
export function decodeAlawSample(code: number): number {
  const ix = (code ^ 0x55) & 0x7f;
  const exponent = ix >> 4;
  let mant = ix & 0x0f;
  if (exponent > 0) mant += 16;
  mant = (mant << 4) + 8;
  if (exponent > 1) mant <<= exponent - 1;
  return code > 127 ? mant : -mant;
}

function buildDecodeTable(decodeSample: (code: number) => number): Int16Array {
  const table = new Int16Array(256);
  for (let code = 0; code < 256; code++) table[code] = decodeSample(code);
  return table;
}

function buildEncodeTable(encodeSample: (sample: number) => number): Uint8Array {
  // Indexed by the sample's 16-bit two's-complement pattern (sample & 0xffff).
  const table = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) table[i] = encodeSample((i << 16) >> 16);
  return table;
}

/** µ-law code → linear PCM16 (256 entries). */
export const ULAW_DECODE_TABLE: Int16Array = buildDecodeTable(decodeUlawSample);
/** A-law code → linear PCM16 (256 entries). */
export const ALAW_DECODE_TABLE: Int16Array = buildDecodeTable(decodeAlawSample);
/** PCM16 (as `sample & 0xffff`) → µ-law code. */
export const ULAW_ENCODE_TABLE: Uint8Array = buildEncodeTable(encodeUlawSample);
/** PCM16 (as `sample & 0xffff`) → A-law code. */
export const ALAW_ENCODE_TABLE: Uint8Array = buildEncodeTable(encodeAlawSample);

/** µ-law code of digital silence (+0): what a G.711 idle channel carries. */
export const ULAW_SILENCE = 0xff;
/** A-law code of digital silence (+0 after even-bit inversion). */
export const ALAW_SILENCE = 0xd5;

function decodeWith(table: Int16Array, codes: Uint8Array, out: Int16Array): number {
  const n = Math.min(codes.length, out.length);
  for (let i = 0; i < n; i++) out[i] = table[codes[i] as number] as number;
  return n;
}

function encodeWith(table: Uint8Array, pcm: Int16Array, out: Uint8Array): number {
  const n = Math.min(pcm.length, out.length);
  for (let i = 0; i < n; i++) out[i] = table[(pcm[i] as number) & 0xffff] as number;
  return n;
}

/** Decodes µ-law bytes into `out`; returns samples written (`min(codes.length, out.length)`). */
export function ulawToPcm(codes: Uint8Array, out: Int16Array): number {
  return decodeWith(ULAW_DECODE_TABLE, codes, out);
}

/** Decodes A-law bytes into `out`; returns samples written. */
export function alawToPcm(codes: Uint8Array, out: Int16Array): number {
  return decodeWith(ALAW_DECODE_TABLE, codes, out);
}

/** Encodes PCM16 into µ-law bytes; returns bytes written (`min(pcm.length, out.length)`). */
export function pcmToUlaw(pcm: Int16Array, out: Uint8Array): number {
  return encodeWith(ULAW_ENCODE_TABLE, pcm, out);
}

/** Encodes PCM16 into A-law bytes; returns bytes written. */
export function pcmToAlaw(pcm: Int16Array, out: Uint8Array): number {
  return encodeWith(ALAW_ENCODE_TABLE, pcm, out);
}

/** G.711 as a {@link Codec}: stateless, so one instance could serve many calls, but the factory makes one each. */
export class G711Codec implements Codec {
  readonly name: 'PCMU' | 'PCMA';
  readonly sampleRateHz = G711_RATE_HZ;
  readonly clockRateHz = G711_RATE_HZ;
  readonly channels = 1 as const;
  readonly payloadType: number;
  readonly #decodeTable: Int16Array;
  readonly #encodeTable: Uint8Array;

  /** @param payloadType usually the static 0 (PCMU) or 8 (PCMA) of RFC 3551 Table 4. */
  constructor(name: 'PCMU' | 'PCMA', payloadType: number = name === 'PCMU' ? 0 : 8) {
    this.name = name;
    this.payloadType = payloadType;
    this.#decodeTable = name === 'PCMU' ? ULAW_DECODE_TABLE : ALAW_DECODE_TABLE;
    this.#encodeTable = name === 'PCMU' ? ULAW_ENCODE_TABLE : ALAW_ENCODE_TABLE;
  }

  frameSamples(ptimeMs: number): number {
    return Math.round((G711_RATE_HZ * ptimeMs) / 1000);
  }

  /** One byte per sample; output is truncated to `out.length`. */
  decode(payload: Buffer, out: Int16Array): number {
    return decodeWith(this.#decodeTable, payload, out);
  }

  /** One byte per sample; input is truncated to `out.length`. */
  encode(pcm: Int16Array, out: Buffer): number {
    return encodeWith(this.#encodeTable, pcm, out);
  }
}
