/**
 * SRTCP (RFC 3711 §3.4; AEAD_AES_128_GCM per RFC 7714 §9), one direction of one master key, in place.
 *
 * AES-CM:  header(8) | encrypted rest | E||SRTCP index (4) | tag (10)       — the tag covers all before it
 * GCM:     header(8) | encrypted rest | tag (16) | E||SRTCP index (4)       — AAD = header || E||index
 *
 * We always send with E = 1 (encrypted) and a 31-bit index counting up per context; received packets with
 * E = 0 are authenticated only (RFC 3711 §3.4 allows it; RFC 7714 §9.2: the whole packet is then AAD).
 * Each sender SSRC has its own replay window over the index. Allocation per packet is that of node:crypto
 * only, as in srtp-rtp.ts.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { aesCmIv } from './aes-cm.js';
import { KeyedContext } from './keyed-context.js';
import { SrtpRejection } from './srtp-rtp.js';

const E_BIT = 0x80000000;
const MAX_INDEX = 0x7fffffff;

/** RFC 3550 §6.4: version 2 and at least the 8 octets of header and sender SSRC. */
function isRtcpHeader(buf: Buffer, length: number): boolean {
  return length >= 8 && ((buf[0] ?? 0) & 0xc0) === 0x80;
}

export class SrtcpContext extends KeyedContext {
  readonly #aad = Buffer.alloc(12);
  readonly #eIndex = Buffer.alloc(4);
  /** [0]: the last SRTCP index sent. */
  readonly #sent = new Uint32Array([0]);
  #started = false;

  /** Octets protect() adds: E||index and the tag. */
  get overheadBytes(): number {
    return 4 + this.suite.rtcpTagBytes;
  }

  /**
   * Encrypts and authenticates the compound RTCP packet `buf[0, length)` in place (the buffer needs
   * {@link overheadBytes} of room); returns the new length or an SrtpRejection. `index` overrides the
   * counter (test vectors).
   */
  protect(buf: Buffer, length: number, index?: number): number {
    if (!isRtcpHeader(buf, length) || buf.length < length + this.overheadBytes)
      return SrtpRejection.Malformed;
    let i: number;
    if (index !== undefined) i = index & MAX_INDEX;
    else {
      // §3.4: the index must not repeat under one key; after 2^31 packets the key is spent.
      const last = this.#sent[0] ?? 0;
      if (this.#started && last >= MAX_INDEX) return SrtpRejection.KeyExpired;
      i = this.#started ? last + 1 : 0;
      this.#started = true;
      this.#sent[0] = i;
    }
    const ssrc = buf.readUInt32BE(4);
    const eIndex = (E_BIT | i) >>> 0;
    if (this.aes !== undefined) {
      aesCmIv(this.iv, this.keys.salt, ssrc, i >>> 16, i & 0xffff);
      this.aes.xor(this.iv, buf, 8, length);
      buf.writeUInt32BE(eIndex, length);
      const tag = createHmac('sha1', this.keys.authKey)
        .update(buf.subarray(0, length + 4))
        .digest();
      tag.copy(buf, length + 4, 0, this.suite.rtcpTagBytes);
      return length + 4 + this.suite.rtcpTagBytes;
    }
    const cipher = createCipheriv('aes-128-gcm', this.keys.encryptionKey, this.#gcmIvFor(ssrc, i));
    cipher.setAAD(this.#aadFor(buf, eIndex));
    const encrypted = cipher.update(buf.subarray(8, length));
    cipher.final();
    encrypted.copy(buf, 8);
    cipher.getAuthTag().copy(buf, length);
    buf.writeUInt32BE(eIndex, length + 16);
    return length + 20;
  }

  /** Authenticates (and, E = 1, decrypts) in place; returns the RTCP length or an SrtpRejection. */
  unprotect(buf: Buffer, length: number): number {
    const tagBytes = this.suite.rtcpTagBytes;
    if (!isRtcpHeader(buf, length - 4 - tagBytes)) return SrtpRejection.Malformed;
    const gcm = this.aes === undefined;
    const eIndexAt = gcm ? length - 4 : length - 4 - tagBytes;
    const eIndex = buf.readUInt32BE(eIndexAt);
    const encrypted = (eIndex & E_BIT) !== 0;
    const index = eIndex & MAX_INDEX;
    const ssrc = buf.readUInt32BE(4);
    const stream = this.streams.find(ssrc);
    if (stream !== undefined && !stream.window.check(index)) return SrtpRejection.Replayed;
    const end = length - 4 - tagBytes;
    if (!gcm) {
      const tag = createHmac('sha1', this.keys.authKey)
        .update(buf.subarray(0, length - tagBytes))
        .digest();
      if (!timingSafeEqual(tag.subarray(0, tagBytes), buf.subarray(length - tagBytes, length))) {
        return SrtpRejection.AuthFailed;
      }
      if (encrypted) {
        aesCmIv(this.iv, this.keys.salt, ssrc, index >>> 16, index & 0xffff);
        this.aes?.xor(this.iv, buf, 8, end);
      }
    } else {
      const decipher = createDecipheriv('aes-128-gcm', this.keys.encryptionKey, this.#gcmIvFor(ssrc, index));
      decipher.setAuthTag(buf.subarray(end, end + 16));
      if (encrypted) decipher.setAAD(this.#aadFor(buf, eIndex));
      else {
        this.#eIndex.writeUInt32BE(eIndex >>> 0, 0);
        decipher.setAAD(Buffer.concat([buf.subarray(0, end), this.#eIndex]));
      }
      const plain = encrypted ? decipher.update(buf.subarray(8, end)) : undefined;
      try {
        decipher.final();
      } catch {
        return SrtpRejection.AuthFailed;
      }
      plain?.copy(buf, 8);
    }
    (stream ?? this.streams.create(ssrc)).window.accept(index);
    return end;
  }

  /** RFC 7714 §9.1: IV = (0^16 || SSRC || 0^16 || 0 || SRTCP index) XOR salt. */
  #gcmIvFor(ssrc: number, index: number): Buffer {
    const iv = this.gcmIv;
    this.keys.salt.copy(iv, 0, 0, 12);
    iv.writeUInt32BE((iv.readUInt32BE(2) ^ ssrc) >>> 0, 2);
    iv.writeUInt32BE((iv.readUInt32BE(8) ^ index) >>> 0, 8);
    return iv;
  }

  /** RFC 7714 §9.1 AAD of an encrypted SRTCP packet: the 8 header octets and E||index. */
  #aadFor(buf: Buffer, eIndex: number): Buffer {
    buf.copy(this.#aad, 0, 0, 8);
    this.#aad.writeUInt32BE(eIndex >>> 0, 8);
    return this.#aad;
  }
}
