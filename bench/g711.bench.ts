/**
 * Codec kernels, per 20 ms frame: G.711 µ-law/A-law through the lookup tables (and the segment-search encoder
 * the tables replaced, to justify them), G.722 (SB-ADPCM, 16 kHz) and Opus encode/decode at 48 kHz mono.
 */
import { G722Codec } from '../src/media/codecs/g722.js';
import { OpusCodec } from '../src/media/codecs/opus.js';
import {
  ALAW_DECODE_TABLE,
  ULAW_DECODE_TABLE,
  alawToPcm,
  encodeAlawSample,
  encodeUlawSample,
  pcmToAlaw,
  pcmToUlaw,
  ulawToPcm,
} from '../src/media/codecs/g711.js';
import { fmt, nsPerOp } from './util.js';

/** Speech-like test frame: a few harmonics of a 140 Hz voice at a conversational level. */
function voiceFrame(samples: number, rateHz: number): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    let v = 0;
    for (let h = 1; h <= 12; h++) v += Math.sin((2 * Math.PI * 140 * h * i) / rateHz + h) / h;
    out[i] = Math.round(v * 4000);
  }
  return out;
}

export async function run(print: (line: string) => void): Promise<void> {
  await Promise.resolve();
  const pcm = voiceFrame(160, 8000);
  const codes = new Uint8Array(160);
  const back = new Int16Array(160);
  let sink = 0;
  const iterations = 200_000;

  const segmentEncode = (encode: (s: number) => number) => (): void => {
    for (let i = 0; i < 160; i++) codes[i] = encode(pcm[i] as number);
  };
  const lines: [string, () => void][] = [
    ['PCMU encode (64K table)', () => void pcmToUlaw(pcm, codes)],
    ['PCMU encode (segment search)', segmentEncode(encodeUlawSample)],
    ['PCMU decode (256 table)', () => void ulawToPcm(codes, back)],
    ['PCMA encode (64K table)', () => void pcmToAlaw(pcm, codes)],
    ['PCMA encode (segment search)', segmentEncode(encodeAlawSample)],
    ['PCMA decode (256 table)', () => void alawToPcm(codes, back)],
  ];
  print('G.711, 160 samples (20 ms @ 8 kHz):');
  for (const [name, fn] of lines) {
    const ns = nsPerOp(fn, iterations, 20_000);
    sink += back[7] as number;
    print(`  ${name.padEnd(30)} ${fmt(ns, 0).padStart(7)} ns/frame  ${fmt(ns / 160, 2)} ns/sample`);
  }
  sink += (ULAW_DECODE_TABLE[0] as number) + (ALAW_DECODE_TABLE[0] as number);

  // G.722 is stateful (ADPCM predictors, QMF delay lines): one codec keeps running across frames, as on a call.
  const g722 = new G722Codec();
  const widePcm = voiceFrame(320, 16000);
  const g722Codes = Buffer.alloc(160);
  const wideBack = new Int16Array(320);
  const g722Iterations = 20_000;
  const g722EncNs = nsPerOp(() => void g722.encode(widePcm, g722Codes), g722Iterations, 2000);
  const g722DecNs = nsPerOp(() => void g722.decode(g722Codes, wideBack), g722Iterations, 2000);
  sink += wideBack[7] as number;
  print('G.722, 320 samples ↔ 160 octets (20 ms @ 16 kHz, 64 kbit/s):');
  print(
    `  ${'encode'.padEnd(30)} ${fmt(g722EncNs / 1000, 1).padStart(7)} µs/frame  ${fmt(g722EncNs / 320, 0)} ns/sample`,
  );
  print(
    `  ${'decode'.padEnd(30)} ${fmt(g722DecNs / 1000, 1).padStart(7)} µs/frame  ${fmt(g722DecNs / 320, 0)} ns/sample`,
  );

  const opus = new OpusCodec(111);
  const opusPcm = voiceFrame(960, 48000);
  const packet = Buffer.alloc(1275);
  const decoded = new Int16Array(960);
  let packetBytes = opus.encode(opusPcm, packet);
  const opusIterations = 3000;
  const encNs = nsPerOp(
    () => {
      packetBytes = opus.encode(opusPcm, packet);
    },
    opusIterations,
    300,
  );
  const payload = packet.subarray(0, packetBytes);
  const decNs = nsPerOp(
    () => {
      sink += opus.decode(payload, decoded);
    },
    opusIterations,
    300,
  );
  opus.close();
  print('Opus, 960 samples (20 ms @ 48 kHz mono, library default bitrate):');
  print(`  ${'encode'.padEnd(30)} ${fmt(encNs / 1000, 1).padStart(7)} µs/frame  (${packetBytes} B packet)`);
  print(`  ${'decode'.padEnd(30)} ${fmt(decNs / 1000, 1).padStart(7)} µs/frame`);
  print(`  (checksum ${sink & 1}: keeps the measured work observable to the JIT)`);
}
