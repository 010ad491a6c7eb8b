import { describe, expect, it } from 'vitest';
import { OpusCodec } from '../../../src/media/codecs/opus.js';

function tone(freqHz: number, samples: number, amplitude: number, startSample = 0): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++)
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freqHz * (i + startSample)) / 48000));
  return out;
}

function rms(x: Int16Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / Math.max(1, x.length));
}

describe('OpusCodec', () => {
  it('has RFC 7587 parameters', () => {
    const c = new OpusCodec(111);
    expect(c.name).toBe('opus');
    expect(c.payloadType).toBe(111);
    expect(c.sampleRateHz).toBe(48000);
    expect(c.clockRateHz).toBe(48000);
    expect(c.frameSamples(20)).toBe(960);
    c.close();
  });

  it('round-trips a 440 Hz tone frame by frame with its energy intact', () => {
    const c = new OpusCodec(96);
    const packet = Buffer.alloc(1275);
    const out = new Int16Array(960);
    const decoded: number[] = [];
    for (let f = 0; f < 25; f++) {
      const bytes = c.encode(tone(440, 960, 8000, f * 960), packet);
      expect(bytes).toBeGreaterThan(0);
      expect(c.decode(packet.subarray(0, bytes), out)).toBe(960);
      if (f >= 5) decoded.push(rms(out));
    }
    const expected = 8000 / Math.SQRT2;
    for (const r of decoded) expect(Math.abs(r - expected) / expected).toBeLessThan(0.1);
    expect(c.corruptPackets).toBe(0);
    c.close();
  });

  it('keeps state per instance: another instance encoding a different stream does not disturb it', () => {
    const a = new OpusCodec(96);
    const b = new OpusCodec(96);
    const alone = new OpusCodec(96);
    const pa = Buffer.alloc(1275);
    const pb = Buffer.alloc(1275);
    const pc = Buffer.alloc(1275);
    for (let f = 0; f < 4; f++) {
      const na = a.encode(tone(300, 960, 5000, f * 960), pa);
      b.encode(tone(900, 960, 9000, f * 960), pb);
      const nc = alone.encode(tone(300, 960, 5000, f * 960), pc);
      expect(pa.subarray(0, na).equals(pc.subarray(0, nc))).toBe(true);
    }
  });

  it('zero-pads short frames to a valid Opus frame size instead of crashing the binding', () => {
    const c = new OpusCodec(96);
    const packet = Buffer.alloc(1275);
    const out = new Int16Array(2880);
    for (const samples of [0, 1, 333, 959, 961, 5000]) {
      const bytes = c.encode(tone(440, samples, 3000), packet);
      expect(bytes).toBeGreaterThan(0);
      const n = c.decode(packet.subarray(0, bytes), out);
      expect([120, 240, 480, 960, 1920, 2880]).toContain(n);
      expect(n).toBeGreaterThanOrEqual(Math.min(samples, 2880));
    }
    expect(c.encodeErrors).toBe(0);
  });

  it('returns 0 and counts corrupt packets without throwing, then keeps decoding', () => {
    const c = new OpusCodec(96);
    const out = new Int16Array(960);
    expect(c.decode(Buffer.alloc(0), out)).toBe(0);
    expect(c.corruptPackets).toBe(0);
    expect(c.decode(Buffer.from([0xff, 0xff]), out)).toBe(0);
    expect(c.decode(Buffer.from([0x03]), out)).toBe(0);
    expect(c.decode(Buffer.alloc(2000, 7), out)).toBe(0);
    expect(c.corruptPackets).toBe(3);
    const packet = Buffer.alloc(1275);
    const bytes = c.encode(tone(440, 960, 3000), packet);
    expect(c.decode(packet.subarray(0, bytes), out)).toBe(960);
  });

  it('truncates decoded audio to the output buffer and reports a too-small packet buffer', () => {
    const c = new OpusCodec(96);
    const packet = Buffer.alloc(1275);
    const bytes = c.encode(tone(440, 960, 3000), packet);
    expect(c.decode(packet.subarray(0, bytes), new Int16Array(100))).toBe(100);
    expect(c.encode(tone(440, 960, 3000), Buffer.alloc(2))).toBe(0);
    expect(c.encodeErrors).toBe(1);
  });

  it('returns 0 after close()', () => {
    const c = new OpusCodec(96);
    c.close();
    c.close();
    expect(c.encode(new Int16Array(960), Buffer.alloc(1275))).toBe(0);
    expect(c.decode(Buffer.from([0xf8, 0xff, 0xfe]), new Int16Array(960))).toBe(0);
  });
});
