import { describe, expect, it } from 'vitest';
import {
  createRtpPacket,
  csrcAt,
  extensionView,
  isRtcp,
  parseRtp,
  payloadView,
  seqDiff,
  seqNewer,
  serializeRtp,
  tsDiff,
  tsNewer,
  writeRtpHeader,
} from '../../../src/media/rtp/packet.js';

const base = { payloadType: 0, marker: false, sequence: 1000, timestamp: 160_000, ssrc: 0xdeadbeef };

describe('parseRtp', () => {
  it('round-trips a basic packet', () => {
    const payload = Buffer.from([1, 2, 3, 4, 5]);
    const buf = serializeRtp({ ...base, marker: true, payloadType: 8 }, payload);
    const p = createRtpPacket();
    expect(parseRtp(buf, p)).toBe(true);
    expect(p).toMatchObject({
      marker: true,
      payloadType: 8,
      sequence: 1000,
      timestamp: 160_000,
      ssrc: 0xdeadbeef,
    });
    expect(p.payloadOffset).toBe(12);
    expect(p.payloadLength).toBe(5);
    expect(payloadView(p)).toEqual(payload);
  });

  it('handles CSRCs, extension and padding together', () => {
    const payload = Buffer.from('abcdefgh');
    const ext = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const buf = serializeRtp(
      { ...base, csrcs: [11, 22], extension: { profile: 0xbede, data: ext }, paddingBytes: 4 },
      payload,
    );
    const p = createRtpPacket();
    expect(parseRtp(buf, p)).toBe(true);
    expect(p.csrcCount).toBe(2);
    expect(csrcAt(p, 0)).toBe(11);
    expect(csrcAt(p, 1)).toBe(22);
    expect(csrcAt(p, 2)).toBeUndefined();
    expect(p.hasExtension).toBe(true);
    expect(p.extensionProfile).toBe(0xbede);
    expect(extensionView(p)).toEqual(ext);
    expect(p.paddingBytes).toBe(4);
    expect(payloadView(p).toString()).toBe('abcdefgh');
  });

  it('honours an explicit length shorter than the buffer', () => {
    const pkt = serializeRtp(base, Buffer.from([9, 9, 9]));
    const big = Buffer.alloc(100, 0xff);
    pkt.copy(big);
    const p = createRtpPacket();
    expect(parseRtp(big, p, pkt.length)).toBe(true);
    expect(p.payloadLength).toBe(3);
    expect(parseRtp(big, p, 101)).toBe(false);
  });

  it('rejects truncated headers of every length below 12', () => {
    const full = serializeRtp(base, Buffer.alloc(0));
    const p = createRtpPacket();
    for (let n = 0; n < 12; n++) expect(parseRtp(full.subarray(0, n), p)).toBe(false);
    expect(parseRtp(full, p)).toBe(true); // empty payload is legal
  });

  it('rejects version != 2', () => {
    const p = createRtpPacket();
    for (const v of [0, 1, 3]) {
      const buf = serializeRtp(base, Buffer.alloc(4));
      buf[0] = (v << 6) | ((buf[0] ?? 0) & 0x3f);
      expect(parseRtp(buf, p)).toBe(false);
    }
  });

  it('rejects a CSRC count past the end', () => {
    const buf = serializeRtp({ ...base, csrcs: [1, 2] }, Buffer.alloc(0));
    buf[0] = 0x80 | 3; // claims 3 CSRCs, has 2
    expect(parseRtp(buf, createRtpPacket())).toBe(false);
    const tiny = serializeRtp(base, Buffer.alloc(4));
    tiny[0] = 0x8f; // 15 CSRCs in a 16-byte packet
    expect(parseRtp(tiny, createRtpPacket())).toBe(false);
  });

  it('rejects an extension header or length past the end', () => {
    const p = createRtpPacket();
    const noRoom = serializeRtp(base, Buffer.alloc(2));
    noRoom[0] = 0x90; // X set but only 2 bytes follow
    expect(parseRtp(noRoom, p)).toBe(false);
    const buf = serializeRtp({ ...base, extension: { profile: 1, data: Buffer.alloc(4) } }, Buffer.alloc(0));
    buf.writeUInt16BE(2, 14); // 2 words claimed, 1 present
    expect(parseRtp(buf, p)).toBe(false);
    buf.writeUInt16BE(0xffff, 14);
    expect(parseRtp(buf, p)).toBe(false);
  });

  it('rejects bad padding: zero count or larger than the payload', () => {
    const p = createRtpPacket();
    const zero = serializeRtp({ ...base, paddingBytes: 2 }, Buffer.alloc(4));
    zero[zero.length - 1] = 0;
    expect(parseRtp(zero, p)).toBe(false);
    const big = serializeRtp({ ...base, paddingBytes: 2 }, Buffer.alloc(4));
    big[big.length - 1] = 7; // 6 bytes after header
    expect(parseRtp(big, p)).toBe(false);
    big[big.length - 1] = 6; // all of it padding: legal, empty payload
    expect(parseRtp(big, p)).toBe(true);
    expect(p.payloadLength).toBe(0);
    const headerOnly = serializeRtp(base, Buffer.alloc(0));
    headerOnly[0] = 0xa0; // P set, last byte is header (SSRC) byte
    expect(parseRtp(headerOnly, p)).toBe(false);
  });

  it('recognises and rejects RTCP sharing the port (RFC 5761)', () => {
    for (const pt of [200, 201, 202, 203, 204]) {
      const rtcp = Buffer.from([0x80, pt, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
      expect(isRtcp(rtcp)).toBe(true);
      expect(parseRtp(rtcp, createRtpPacket())).toBe(false);
    }
    expect(isRtcp(serializeRtp({ ...base, marker: true, payloadType: 0 }, Buffer.alloc(1)))).toBe(false);
    expect(isRtcp(serializeRtp({ ...base, marker: true, payloadType: 101 }, Buffer.alloc(1)))).toBe(false);
    expect(isRtcp(Buffer.alloc(1))).toBe(false);
  });

  it('never throws on random garbage', () => {
    const p = createRtpPacket();
    let seed = 42;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 2000; i++) {
      const buf = Buffer.alloc(rand() % 64);
      for (let j = 0; j < buf.length; j++) buf[j] = rand() & 0xff;
      if (buf.length > 0 && i % 2 === 0) buf[0] = 0x80 | ((buf[0] ?? 0) & 0x3f);
      expect(() => parseRtp(buf, p)).not.toThrow();
      if (parseRtp(buf, p)) expect(p.payloadOffset + p.payloadLength).toBeLessThanOrEqual(buf.length);
    }
  });
});

describe('writeRtpHeader', () => {
  it('writes 12 bytes that parse back, masking out-of-range fields', () => {
    const buf = Buffer.alloc(20);
    expect(
      writeRtpHeader(buf, 4, {
        payloadType: 0,
        marker: true,
        sequence: 65536 + 5,
        timestamp: 2 ** 32 + 7,
        ssrc: 1,
      }),
    ).toBe(12);
    const p = createRtpPacket();
    expect(parseRtp(buf.subarray(4), p)).toBe(true);
    expect(p).toMatchObject({ marker: true, sequence: 5, timestamp: 7, ssrc: 1, payloadLength: 4 });
  });
});

describe('wrap-around arithmetic', () => {
  it('compares 16-bit sequence numbers across the wrap', () => {
    expect(seqNewer(0, 65535)).toBe(true);
    expect(seqNewer(65535, 0)).toBe(false);
    expect(seqDiff(0, 65535)).toBe(1);
    expect(seqDiff(65535, 0)).toBe(-1);
    expect(seqDiff(5, 5)).toBe(0);
    expect(seqDiff(100, 65500)).toBe(136);
    expect(seqDiff(32767, 0)).toBe(32767);
    expect(seqDiff(32768, 0)).toBe(-32768);
  });

  it('compares 32-bit timestamps across the wrap', () => {
    expect(tsDiff(80, 0xffffffb0)).toBe(160);
    expect(tsDiff(0xffffffb0, 80)).toBe(-160);
    expect(tsNewer(0, 0xffffffff)).toBe(true);
    expect(tsNewer(0xffffffff, 0)).toBe(false);
  });
});
