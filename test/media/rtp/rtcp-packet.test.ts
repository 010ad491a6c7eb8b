import { describe, expect, it } from 'vitest';
import {
  MAX_RTCP_COMPOUND_BYTES,
  ntpFromUnixMs,
  ntpMiddle32,
  parseRtcp,
  roundTripMs,
  writeRtcp,
  type ReportBlock,
} from '../../../src/media/rtp/rtcp-packet.js';
import { estimateQuality, mosFromR } from '../../../src/media/rtp/e-model.js';

/** Hex with spaces/newlines → Buffer (hand-built packets below follow RFC 3550 §6.4–§6.6 field by field). */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

// RFC 3550 §6.4.1 SR, RC=1: V=2 P=0 RC=1 PT=200 length=12 (13 words), SSRC 0x11223344,
// NTP 0xE8A1B2C3.0x80000000, RTP ts 0x00001F40, 500 packets, 80000 octets, then one report block on
// SSRC 0xCAFEBABE: fraction 0x1A (26/256 ≈ 10 %), cumulative 0x000032 (50), ext. highest 0x0001_0005,
// jitter 0x28 (40), LSR 0xB2C38000, DLSR 0x00010000 (1 s).
const SR = hex(`
  81 c8 00 0c  11 22 33 44
  e8 a1 b2 c3  80 00 00 00  00 00 1f 40  00 00 01 f4  00 01 38 80
  ca fe ba be  1a 00 00 32  00 01 00 05  00 00 00 28  b2 c3 80 00  00 01 00 00`);
// §6.5 SDES, SC=1: SSRC 0x11223344, CNAME (type 1) length 11 "user@host.x", null item, padded to 32 bits.
const SDES = hex(`
  81 ca 00 05  11 22 33 44  01 0b 75 73 65 72 40 68 6f 73 74 2e 78  00 00 00`);
// §6.6 BYE, SC=1, reason "bye" (length 3), no padding needed (1 + 3 = 4 octets).
const BYE = hex(`81 cb 00 02  11 22 33 44  03 62 79 65`);

const SR_SENDER = {
  ntpSeconds: 0xe8a1b2c3,
  ntpFraction: 0x80000000,
  rtpTimestamp: 8000,
  packetCount: 500,
  octetCount: 80000,
};
const SR_BLOCK: ReportBlock = {
  ssrc: 0xcafebabe,
  fractionLost: 26,
  cumulativeLost: 50,
  extendedHighestSeq: 0x10005,
  jitter: 40,
  lsr: 0xb2c38000,
  dlsr: 65536,
};

describe('parseRtcp: hand-built RFC 3550 packets', () => {
  it('reads an SR + SDES + BYE compound field by field', () => {
    const buf = Buffer.concat([SR, SDES, BYE]);
    const r = parseRtcp(buf);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.packets.map((p) => p.type)).toEqual(['sr', 'sdes', 'bye']);
    expect(r.packets[0]).toEqual({
      type: 'sr',
      ssrc: 0x11223344,
      sender: SR_SENDER,
      reports: [SR_BLOCK],
    });
    expect(r.packets[1]).toEqual({ type: 'sdes', chunks: [{ ssrc: 0x11223344, cname: 'user@host.x' }] });
    expect(r.packets[2]).toEqual({ type: 'bye', ssrcs: [0x11223344], reason: 'bye' });
  });

  it('reads an empty RR (RC=0) and a negative cumulative loss (duplicates, 24-bit signed)', () => {
    const rr = hex(`80 c9 00 01  01 02 03 04`);
    expect(parseRtcp(rr)).toEqual({ ok: true, packets: [{ type: 'rr', ssrc: 0x01020304, reports: [] }] });
    const neg = hex(
      `81 c9 00 07  01 02 03 04  aa bb cc dd 00 ff ff fe  00 00 00 10  00000000 00000000 00000000`,
    );
    const r = parseRtcp(neg);
    expect(r.ok && r.packets[0]?.type === 'rr' ? r.packets[0].reports[0]?.cumulativeLost : undefined).toBe(
      -2,
    );
  });

  it('accepts padding on the last packet and unknown RTCP types (APP) in the compound', () => {
    const app = hex(`80 cc 00 02  11 22 33 44  41 42 43 44`);
    // RR with P set: 4 bytes of padding, last octet counts them.
    const paddedRr = hex(`a0 c9 00 02  01 02 03 04  00 00 00 04`);
    const r = parseRtcp(Buffer.concat([hex(`80 c9 00 01 01 02 03 04`), app, paddedRr]));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.packets.map((p) => p.type)).toEqual(['rr', 'other', 'rr']);
  });
});

describe('parseRtcp: refuses what RFC 3550 §A.2 refuses', () => {
  const cases: [string, Buffer, string][] = [
    ['too short', hex(`81 c8 00`), 'shorter'],
    ['not 32-bit aligned', Buffer.concat([SR, hex('00')]), 'multiple of 32'],
    ['first packet is SDES', Buffer.concat([SDES, SR]), 'SR or RR'],
    ['version 1', hex(`41 c9 00 01 01 02 03 04`), 'version'],
    ['version 1 later in the compound', Buffer.concat([SR, hex(`41 ca 00 00`)]), 'version'],
    ['length past the datagram', hex(`80 c9 00 05 01 02 03 04`), 'runs past'],
    ['lengths do not add up (trailing bytes)', Buffer.concat([SR, hex(`80 c9`)]), 'multiple of 32'],
    [
      'padding on a packet that is not the last',
      Buffer.concat([hex(`a0 c9 00 02 01 02 03 04 00 00 00 04`), SDES]),
      'padding',
    ],
    ['padding count 0', hex(`a0 c9 00 02 01 02 03 04 00 00 00 00`), 'padding'],
    ['padding count larger than the packet', hex(`a0 c9 00 02 01 02 03 04 00 00 00 40`), 'padding'],
    ['RC larger than the RR', hex(`85 c9 00 01 01 02 03 04`), 'RC'],
    ['SR without sender info', hex(`80 c8 00 01 01 02 03 04`), 'RC'],
    [
      'SDES item past the packet',
      Buffer.concat([hex(`80 c9 00 01 01 02 03 04`), hex(`81 ca 00 02 11 22 33 44 01 20 41 42`)]),
      'SDES',
    ],
    [
      'SDES without terminator',
      Buffer.concat([hex(`80 c9 00 01 01 02 03 04`), hex(`81 ca 00 02 11 22 33 44 01 02 41 42`)]),
      'SDES',
    ],
    [
      'BYE SC larger than the packet',
      Buffer.concat([hex(`80 c9 00 01 01 02 03 04`), hex(`83 cb 00 01 11 22 33 44`)]),
      'BYE',
    ],
    [
      'RTP, not RTCP, after the RR',
      Buffer.concat([hex(`80 c9 00 01 01 02 03 04`), hex(`80 00 00 01 00 00 00 00`)]),
      'not RTCP',
    ],
  ];
  for (const [name, buf, reason] of cases) {
    it(name, () => {
      const r = parseRtcp(buf);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toContain(reason);
    });
  }

  it('bounds the work: a datagram of 200 empty RRs is refused, random garbage never throws', () => {
    const many = Buffer.concat(Array.from({ length: 200 }, () => hex(`80 c9 00 01 01 02 03 04`)));
    expect(parseRtcp(many)).toEqual({ ok: false, reason: 'too many packets in compound' });
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      const n = 4 + ((i * 13) % 120);
      const b = Buffer.alloc(n);
      for (let j = 0; j < n; j++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        b[j] = seed & 0xff;
      }
      b[0] = 0x80 | (b[0]! & 0x3f);
      b[1] = 200 + (b[1]! % 2);
      expect(() => parseRtcp(b)).not.toThrow();
    }
  });
});

describe('writeRtcp', () => {
  it('writes the hand-built SR + SDES + BYE byte for byte', () => {
    const out = Buffer.alloc(MAX_RTCP_COMPOUND_BYTES);
    const n = writeRtcp(out, {
      ssrc: 0x11223344,
      sender: SR_SENDER,
      reports: [SR_BLOCK],
      cname: 'user@host.x',
      bye: { reason: 'bye' },
    });
    expect(out.subarray(0, n).toString('hex')).toBe(Buffer.concat([SR, SDES, BYE]).toString('hex'));
  });

  it('round-trips an RR with 31 blocks, and clamps cumulative loss to 24 bits', () => {
    const out = Buffer.alloc(MAX_RTCP_COMPOUND_BYTES);
    const reports = Array.from({ length: 31 }, (_, i) => ({
      ...SR_BLOCK,
      ssrc: i + 1,
      cumulativeLost: i === 0 ? 1e9 : -i,
    }));
    const n = writeRtcp(out, { ssrc: 9, reports, cname: 'x' });
    const r = parseRtcp(out, n);
    expect(r.ok).toBe(true);
    if (!r.ok || r.packets[0]?.type !== 'rr') throw new Error('not an RR');
    expect(r.packets[0].reports).toHaveLength(31);
    expect(r.packets[0].reports[0]?.cumulativeLost).toBe(0x7fffff);
    expect(r.packets[0].reports[5]?.cumulativeLost).toBe(-5);
    expect(r.packets[1]).toEqual({ type: 'sdes', chunks: [{ ssrc: 9, cname: 'x' }] });
  });

  it('refuses its own bad arguments with RangeError', () => {
    const out = Buffer.alloc(MAX_RTCP_COMPOUND_BYTES);
    expect(() => writeRtcp(out, { ssrc: 1, reports: Array(32).fill(SR_BLOCK), cname: 'x' })).toThrow(
      RangeError,
    );
    expect(() => writeRtcp(out, { ssrc: 1, reports: [], cname: '' })).toThrow(RangeError);
    expect(() => writeRtcp(Buffer.alloc(10), { ssrc: 1, reports: [], cname: 'x' })).toThrow(RangeError);
  });
});

describe('NTP and round trip (§6.4.1)', () => {
  it('converts Unix ms to NTP and takes the middle 32 bits', () => {
    const t = ntpFromUnixMs(0);
    expect(t).toEqual({ seconds: 2_208_988_800, fraction: 0 });
    const half = ntpFromUnixMs(1500);
    expect(half.seconds).toBe(2_208_988_801);
    expect(half.fraction).toBe(0x80000000);
    expect(ntpMiddle32(0xe8a1b2c3, 0x80000000)).toBe(0xb2c38000);
  });

  it('RTT = A − LSR − DLSR: the RFC 3550 §6.4.1 figure example', () => {
    // RFC 3550 Figure 2: SR sent at n ... A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000 (46853.125 s),
    // DLSR = 0x0005:4000 (5.250 s) → RTT = 6.125 s.
    expect(roundTripMs(0xb7108000, 0xb7052000, 0x00054000)).toBe(6125);
    expect(roundTripMs(0xb7108000, 0, 0)).toBeUndefined();
    expect(roundTripMs(0xb7051000, 0xb7052000, 0)).toBeUndefined(); // A before LSR: a clock step
  });
});

describe('E-model (simplified G.107)', () => {
  it('rates a clean short call near the G.711 maximum and degrades with loss and delay', () => {
    const clean = estimateQuality({ delayMs: 20, lossPercent: 0 });
    expect(clean.rFactor).toBeCloseTo(93.2 - 0.48, 1);
    expect(clean.mos).toBeGreaterThan(4.3);
    const lossy = estimateQuality({ delayMs: 20, lossPercent: 10 });
    // Ie,eff = 95 · 10 / (10 + 4.3) = 66.4 → R ≈ 26.3.
    expect(lossy.rFactor).toBeCloseTo(93.2 - 0.48 - (95 * 10) / 14.3, 1);
    expect(lossy.mos).toBeLessThan(2);
    const late = estimateQuality({ delayMs: 300, lossPercent: 0 });
    expect(late.rFactor).toBeCloseTo(93.2 - 0.024 * 300 - 0.11 * (300 - 177.3), 1);
    expect(mosFromR(0)).toBe(1);
    expect(mosFromR(100)).toBe(4.5);
  });
});
