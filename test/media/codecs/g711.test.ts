import { describe, expect, it } from 'vitest';
import { alaw, mulaw } from 'alawmulaw';
import {
  ALAW_DECODE_TABLE,
  ALAW_SILENCE,
  G711Codec,
  ULAW_DECODE_TABLE,
  ULAW_SILENCE,
  alawToPcm,
  decodeAlawSample,
  decodeUlawSample,
  encodeAlawSample,
  encodeUlawSample,
  pcmToAlaw,
  pcmToUlaw,
  ulawToPcm,
} from '../../../src/media/codecs/g711.js';

interface Law {
  name: string;
  ref: { encodeSample(x: number): number; decodeSample(c: number): number };
  table: Int16Array;
  encodeSample(x: number): number;
  decodeSample(c: number): number;
  toPcm(codes: Uint8Array, out: Int16Array): number;
  fromPcm(pcm: Int16Array, out: Uint8Array): number;
}

const laws: Law[] = [
  {
    name: 'µ-law',
    ref: mulaw,
    table: ULAW_DECODE_TABLE,
    encodeSample: encodeUlawSample,
    decodeSample: decodeUlawSample,
    toPcm: ulawToPcm,
    fromPcm: pcmToUlaw,
  },
  {
    name: 'A-law',
    ref: alaw,
    table: ALAW_DECODE_TABLE,
    encodeSample: encodeAlawSample,
    decodeSample: decodeAlawSample,
    toPcm: alawToPcm,
    fromPcm: pcmToAlaw,
  },
];

const allSamples = new Int16Array(65536);
for (let i = 0; i < 65536; i++) allSamples[i] = i - 32768;

describe.each(laws)('G.711 $name', (law) => {
  it('decodes all 256 codes exactly like alawmulaw', () => {
    for (let code = 0; code < 256; code++) {
      expect(law.table[code], `code ${code}`).toBe(law.ref.decodeSample(code) | 0);
      expect(law.decodeSample(code)).toBe(law.table[code]);
    }
  });

  it('encodes all 65536 inputs like alawmulaw except at negative decision levels (G.191 rounds those down)', () => {
    const codes = new Uint8Array(65536);
    expect(law.fromPcm(allSamples, codes)).toBe(65536);
    let ties = 0;
    for (let i = 0; i < 65536; i++) {
      const x = allSamples[i] as number;
      const ours = codes[i] as number;
      expect(ours).toBe(law.encodeSample(x));
      const theirs = law.ref.encodeSample(x) & 0xff;
      if (ours === theirs) continue;
      // The only disagreement allowed: x < 0 lies exactly on a decision level (the next sample down already
      // maps to alawmulaw's code); the ITU reference (one's complement) assigns the level to the smaller
      // magnitude, alawmulaw to the larger.
      ties++;
      expect(x).toBeLessThan(0);
      expect(law.encodeSample(x - 1)).toBe(theirs);
      expect(Math.abs(law.table[ours] as number)).toBeLessThan(Math.abs(law.table[theirs] as number));
    }
    // 127 decision levels on the negative side: 8 segments × 16 steps, minus the one at the clip level.
    expect(ties).toBe(127);
  });

  it('quantizes every input to its nearest reconstruction level (error ≤ half a step)', () => {
    for (let i = 0; i < 65536; i++) {
      const x = allSamples[i] as number;
      const y = law.table[law.encodeSample(x)] as number;
      const mag = Math.abs(y);
      // Step size doubles every segment; the top segment also absorbs clipping beyond the last level.
      const halfStep = Math.max(8, 2 ** Math.ceil(Math.log2(mag + 1)) / 32) + 1;
      if (Math.abs(x) < 32000) expect(Math.abs(x - y), `x=${x}`).toBeLessThanOrEqual(halfStep * 2);
    }
  });

  it('round-trips every code through decode → encode', () => {
    const pcm = new Int16Array(256);
    const codes = new Uint8Array(256);
    for (let c = 0; c < 256; c++) codes[c] = c;
    law.toPcm(codes, pcm);
    const again = new Uint8Array(256);
    law.fromPcm(pcm, again);
    for (let c = 0; c < 256; c++) {
      // Both zeros (+0 and −0) decode to 0 and re-encode to +0 for µ-law; A-law has no zero level.
      if (pcm[c] === 0) continue;
      expect(again[c], `code ${c}`).toBe(c);
    }
  });

  it('handles empty and mismatched lengths by converting the common prefix', () => {
    expect(law.toPcm(new Uint8Array(0), new Int16Array(4))).toBe(0);
    expect(law.fromPcm(new Int16Array(0), new Uint8Array(4))).toBe(0);
    expect(law.toPcm(new Uint8Array(5), new Int16Array(3))).toBe(3);
    expect(law.fromPcm(new Int16Array(3), new Uint8Array(5))).toBe(3);
  });
});

describe('G.711 values from the standard', () => {
  it('µ-law (G.711 Table 2): zeros, segment ends and full scale', () => {
    expect(encodeUlawSample(0)).toBe(ULAW_SILENCE);
    expect(encodeUlawSample(-1)).toBe(0x7f); // −0: one's complement puts −1 in the zero interval
    expect(ULAW_DECODE_TABLE[0xff]).toBe(0);
    expect(ULAW_DECODE_TABLE[0x7f]).toBe(0);
    // Full scale 8031 on the 14-bit grid = 32124 left-justified.
    expect(ULAW_DECODE_TABLE[0x80]).toBe(32124);
    expect(ULAW_DECODE_TABLE[0x00]).toBe(-32124);
    expect(encodeUlawSample(32767)).toBe(0x80);
    expect(encodeUlawSample(-32768)).toBe(0x00);
    // Segment 1 (codes 0xFE..0xF0): 14-bit levels 2, 4, ..., 30; segment 2 starts at 33 (132 left-justified).
    expect(ULAW_DECODE_TABLE[0xfe]).toBe(8);
    expect(ULAW_DECODE_TABLE[0xf0]).toBe(120);
    expect(ULAW_DECODE_TABLE[0xef]).toBe(132);
    expect(ULAW_DECODE_TABLE[0xdf]).toBe(396);
  });

  it('A-law (G.711 Table 1): smallest level, segment ends, full scale, even-bit inversion', () => {
    expect(encodeAlawSample(0)).toBe(ALAW_SILENCE);
    expect(encodeAlawSample(-1)).toBe(0x55);
    // Level 1 on the 13-bit grid = 8 left-justified; full scale 4032 = 32256.
    expect(ALAW_DECODE_TABLE[0xd5]).toBe(8);
    expect(ALAW_DECODE_TABLE[0x55]).toBe(-8);
    expect(ALAW_DECODE_TABLE[0xaa]).toBe(32256);
    expect(ALAW_DECODE_TABLE[0x2a]).toBe(-32256);
    expect(encodeAlawSample(32767)).toBe(0xaa);
    expect(encodeAlawSample(-32768)).toBe(0x2a);
    // Segments 0 and 1 share the step 16: 0x0F^0x55 → 248, 0x10^0x55 → 264.
    expect(ALAW_DECODE_TABLE[0x0f ^ 0xd5]).toBe(248);
    expect(ALAW_DECODE_TABLE[0x10 ^ 0xd5]).toBe(264);
  });
});

describe('G711Codec', () => {
  it('exposes RFC 3551 parameters', () => {
    const c = new G711Codec('PCMU');
    expect(c.payloadType).toBe(0);
    expect(new G711Codec('PCMA').payloadType).toBe(8);
    expect(c.sampleRateHz).toBe(8000);
    expect(c.clockRateHz).toBe(8000);
    expect(c.frameSamples(20)).toBe(160);
    expect(c.frameSamples(30)).toBe(240);
  });

  it('encodes a 20 ms frame and decodes it back within quantization error', () => {
    for (const name of ['PCMU', 'PCMA'] as const) {
      const c = new G711Codec(name);
      const pcm = new Int16Array(160);
      for (let i = 0; i < 160; i++) pcm[i] = Math.round(10000 * Math.sin((2 * Math.PI * 1000 * i) / 8000));
      const payload = Buffer.alloc(160);
      expect(c.encode(pcm, payload)).toBe(160);
      const back = new Int16Array(160);
      expect(c.decode(payload, back)).toBe(160);
      for (let i = 0; i < 160; i++)
        expect(Math.abs((back[i] as number) - (pcm[i] as number))).toBeLessThan(350);
    }
  });

  it('decodes an odd-length or empty payload without throwing', () => {
    const c = new G711Codec('PCMA');
    const out = new Int16Array(160);
    expect(c.decode(Buffer.alloc(0), out)).toBe(0);
    expect(c.decode(Buffer.alloc(161, 0xd5), out)).toBe(160);
    expect(c.decode(Buffer.alloc(7, 0xd5), out)).toBe(7);
  });
});
