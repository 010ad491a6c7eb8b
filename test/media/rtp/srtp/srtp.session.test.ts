/**
 * SrtpSession behaviour per suite: round trips, ROC across a sequence-number wrap (RFC 3711 §3.3.1),
 * reordering inside the replay window, replays and packets older than the window refused, any flipped bit
 * refused, SRTCP index and E bit, re-keying with the old key as fallback, key lifetime.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { REPLAY_WINDOW_PACKETS, estimateRoc } from '../../../../src/media/rtp/srtp/replay.js';
import { SrtpSession, type SrtpKeying } from '../../../../src/media/rtp/srtp/session.js';
import { SrtpRejection } from '../../../../src/media/rtp/srtp/srtp-rtp.js';
import {
  SRTP_SUITES,
  SRTP_SUITE_PREFERENCE,
  type SrtpSuiteName,
} from '../../../../src/media/rtp/srtp/suites.js';

function master(suite: SrtpSuiteName): { key: Buffer; salt: Buffer } {
  return { key: randomBytes(16), salt: randomBytes(SRTP_SUITES[suite].saltBytes) };
}

/** Two sessions facing each other: what one protects the other unprotects. */
function pair(suite: SrtpSuiteName): { a: SrtpSession; b: SrtpSession; keyA: SrtpKeying } {
  const ka = master(suite);
  const kb = master(suite);
  const keyA = { suite, local: ka, remote: kb };
  return { a: new SrtpSession(keyA), b: new SrtpSession({ suite, local: kb, remote: ka }), keyA };
}

/** A 160-byte PCMU packet in a buffer with room for the tag. */
function rtp(seq: number, ssrc = 0x11223344, fill = 0x55): { buf: Buffer; length: number } {
  const buf = Buffer.alloc(12 + 160 + 16);
  buf[0] = 0x80;
  buf.writeUInt16BE(seq & 0xffff, 2);
  buf.writeUInt32BE((seq * 160) >>> 0, 4);
  buf.writeUInt32BE(ssrc, 8);
  buf.fill(fill, 12, 172);
  return { buf, length: 172 };
}

function rtcp(ssrc = 0x11223344): { buf: Buffer; length: number } {
  // A receiver report with no blocks (8 octets) plus an SDES chunk; content matters only for the round trip.
  const buf = Buffer.alloc(64);
  Buffer.from('81c90001', 'hex').copy(buf);
  buf.writeUInt32BE(ssrc, 4);
  Buffer.from('81ca000311223344010474657374', 'hex').copy(buf, 8);
  buf.writeUInt32BE(ssrc, 12);
  return { buf, length: 24 };
}

describe.each(SRTP_SUITE_PREFERENCE)('%s', (suite) => {
  const tag = SRTP_SUITES[suite].rtpTagBytes;

  it('round-trips RTP: ciphertext differs from the payload, header stays clear, plaintext restored', () => {
    const { a, b } = pair(suite);
    const p = rtp(1000);
    const clear = Buffer.from(p.buf.subarray(0, p.length));
    const n = a.protectRtp(p.buf, p.length);
    expect(n).toBe(p.length + tag);
    expect(p.buf.subarray(0, 12).equals(clear.subarray(0, 12))).toBe(true);
    expect(p.buf.subarray(12, p.length).equals(clear.subarray(12))).toBe(false);
    expect(b.unprotectRtp(p.buf, n)).toBe(p.length);
    expect(p.buf.subarray(0, p.length).equals(clear)).toBe(true);
  });

  it('keeps the ROC across a sequence wrap, with reordering around it', () => {
    const { a, b } = pair(suite);
    const order = [65533, 65534, 0, 65535, 1, 2, 3];
    const sent = new Map<number, { buf: Buffer; n: number }>();
    // The sender numbers in order; the network reorders 0 and 65535.
    for (const seq of [65533, 65534, 65535, 0, 1, 2, 3]) {
      const p = rtp(seq);
      sent.set(seq, { buf: p.buf, n: a.protectRtp(p.buf, p.length) });
    }
    for (const seq of order) {
      const s = sent.get(seq)!;
      expect(b.unprotectRtp(s.buf, s.n), `seq ${seq}`).toBe(172);
      expect(s.buf[12]).toBe(0x55);
    }
    // A receiver that assumed ROC 0 for the packets after the wrap would fail authentication (AES-CM) and
    // decrypt garbage (both): the counters say every packet authenticated.
    expect(b.counters.unprotectedRtp).toBe(order.length);
    expect(b.counters.authFailed).toBe(0);
  });

  it('refuses a replayed packet and one older than the replay window', () => {
    const { a, b } = pair(suite);
    const packets = Array.from({ length: REPLAY_WINDOW_PACKETS + 2 }, (_, i) => {
      const p = rtp(i);
      return { buf: p.buf, n: a.protectRtp(p.buf, p.length) };
    });
    const first = packets[0]!;
    const copy = Buffer.from(first.buf);
    expect(b.unprotectRtp(first.buf, first.n)).toBe(172);
    expect(b.unprotectRtp(Buffer.from(copy), first.n)).toBe(SrtpRejection.Replayed);
    const late = Buffer.from(packets[1]!.buf);
    for (const p of packets.slice(2)) expect(b.unprotectRtp(p.buf, p.n)).toBe(172);
    // Packet 1 is now REPLAY_WINDOW_PACKETS behind the newest: too old to know whether it was seen.
    expect(b.unprotectRtp(late, packets[1]!.n)).toBe(SrtpRejection.Replayed);
    expect(b.counters.replayed).toBe(2);
  });

  it('refuses a packet with any single flipped bit, leaving state untouched', () => {
    const { a, b } = pair(suite);
    const p = rtp(7);
    const n = a.protectRtp(p.buf, p.length);
    for (const at of [1, 12, 100, n - 1]) {
      const bad = Buffer.from(p.buf);
      bad[at] = (bad[at] ?? 0) ^ 0x01;
      expect(b.unprotectRtp(bad, n), `byte ${at}`).toBe(SrtpRejection.AuthFailed);
    }
    expect(b.counters.authFailed).toBe(4);
    // The genuine packet still goes through: the failures did not mark its index as seen.
    expect(b.unprotectRtp(p.buf, n)).toBe(172);
  });

  it('refuses packets under another key and truncated packets', () => {
    const { a } = pair(suite);
    const { b: stranger } = pair(suite);
    const p = rtp(9);
    const n = a.protectRtp(p.buf, p.length);
    expect(stranger.unprotectRtp(p.buf, n)).toBe(SrtpRejection.AuthFailed);
    expect(stranger.unprotectRtp(p.buf, 8)).toBe(SrtpRejection.Malformed);
  });

  it('round-trips SRTCP with E = 1 and a rising index; refuses a replay and a flipped bit', () => {
    const { a, b } = pair(suite);
    const c1 = rtcp();
    const clear = Buffer.from(c1.buf.subarray(0, c1.length));
    const n1 = a.protectRtcp(c1.buf, c1.length);
    const overhead = SRTP_SUITES[suite].aead ? 20 : 14;
    expect(n1).toBe(c1.length + overhead);
    const eIndexAt = SRTP_SUITES[suite].aead ? n1 - 4 : c1.length;
    expect(c1.buf.readUInt32BE(eIndexAt)).toBe(0x80000000); // E = 1, index 0
    expect(c1.buf.subarray(8, c1.length).equals(clear.subarray(8))).toBe(false);
    const c2 = rtcp();
    const n2 = a.protectRtcp(c2.buf, c2.length);
    expect(c2.buf.readUInt32BE(SRTP_SUITES[suite].aead ? n2 - 4 : c2.length)).toBe(0x80000001);
    const replay = Buffer.from(c1.buf);
    expect(b.unprotectRtcp(c1.buf, n1)).toBe(c1.length);
    expect(c1.buf.subarray(0, c1.length).equals(clear)).toBe(true);
    expect(b.unprotectRtcp(replay, n1)).toBe(SrtpRejection.Replayed);
    const bad = Buffer.from(c2.buf);
    bad[10] = (bad[10] ?? 0) ^ 0x80;
    expect(b.unprotectRtcp(bad, n2)).toBe(SrtpRejection.AuthFailed);
    expect(b.unprotectRtcp(c2.buf, n2)).toBe(c2.length);
  });

  it('re-keys: packets under the new remote key and, meanwhile, the old one are accepted', () => {
    const { a, b, keyA } = pair(suite);
    const oldPacket = rtp(1);
    const nOld = a.protectRtp(oldPacket.buf, oldPacket.length);
    // The peer (a) re-offers with a new key; b learns it.
    const fresh = master(suite);
    const a2 = new SrtpSession({ suite, local: fresh, remote: keyA.remote });
    b.rekey({ suite, local: keyA.remote, remote: fresh }, false, true);
    const newPacket = rtp(2);
    const nNew = a2.protectRtp(newPacket.buf, newPacket.length);
    expect(b.unprotectRtp(newPacket.buf, nNew)).toBe(172);
    expect(b.unprotectRtp(oldPacket.buf, nOld)).toBe(172);
  });
});

describe('SRTCP with E = 0 (authenticated only)', () => {
  it('accepts an unencrypted AES-CM SRTCP packet whose tag verifies and leaves it as sent', async () => {
    const { createHmac } = await import('node:crypto');
    const { deriveKeys } = await import('../../../../src/media/rtp/srtp/kdf.js');
    const suite = 'AES_CM_128_HMAC_SHA1_80';
    const { b, keyA } = pair(suite);
    const keys = deriveKeys(SRTP_SUITES[suite], keyA.local.key, keyA.local.salt);
    const c = rtcp();
    const clear = Buffer.from(c.buf.subarray(0, c.length));
    c.buf.writeUInt32BE(5, c.length); // E = 0, index 5
    createHmac('sha1', keys.rtcp.authKey)
      .update(c.buf.subarray(0, c.length + 4))
      .digest()
      .copy(c.buf, c.length + 4, 0, 10);
    expect(b.unprotectRtcp(c.buf, c.length + 14)).toBe(c.length);
    expect(c.buf.subarray(0, c.length).equals(clear)).toBe(true);
  });
});

describe('key lifetime and the index estimate', () => {
  it('stops protecting and accepting once the master key lifetime is used up (RFC 3711 §9.2)', () => {
    const suite = 'AES_CM_128_HMAC_SHA1_80';
    const ka = { ...master(suite), lifetimePackets: 2 };
    const tx = new SrtpSession({ suite, local: ka, remote: master(suite) });
    for (let seq = 0; seq < 2; seq++) {
      const p = rtp(seq);
      expect(tx.protectRtp(p.buf, p.length)).toBe(182);
    }
    const p = rtp(2);
    expect(tx.protectRtp(p.buf, p.length)).toBe(SrtpRejection.KeyExpired);
    expect(tx.counters.keyExpired).toBe(1);
  });

  it('estimates the ROC as RFC 3711 Appendix A does', () => {
    expect(estimateRoc(0, 65535, 0)).toBe(1);
    expect(estimateRoc(1, 2, 65534)).toBe(0);
    expect(estimateRoc(3, 100, 200)).toBe(3);
    expect(estimateRoc(3, 40000, 39000)).toBe(3);
  });

  it('keeps a different ROC per SSRC', () => {
    const { a, b } = pair('AEAD_AES_128_GCM');
    for (const seq of [65534, 65535, 0, 1]) {
      const p = rtp(seq, 1);
      expect(b.unprotectRtp(p.buf, a.protectRtp(p.buf, p.length))).toBe(172);
    }
    const other = rtp(5, 2);
    expect(b.unprotectRtp(other.buf, a.protectRtp(other.buf, other.length))).toBe(172);
    const next = rtp(2, 1);
    expect(b.unprotectRtp(next.buf, a.protectRtp(next.buf, next.length))).toBe(172);
  });
});
