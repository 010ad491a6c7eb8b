/**
 * SRTP for RTP packets (RFC 3711 §3–4; AEAD_AES_128_GCM per RFC 7714 §8), one direction of one master key.
 * Packets are transformed in place: protect appends the tag (the buffer needs {@link SRTP_MAX_OVERHEAD_BYTES}
 * of room past the packet), unprotect returns the plaintext length.
 *
 * Receive order (§3.3): estimate the index (ROC, Appendix A), replay check, authenticate (HMAC compared in
 * constant time, or the GCM tag), decrypt, and only then advance ROC/s_l and the replay window. A packet
 * that fails any step changes nothing and leaves the buffer as it came (AES-CM: HMAC before decryption;
 * GCM: the plaintext is copied back only once the tag verified).
 *
 * Allocation per packet, all inside node:crypto, which has no reusable-context or write-into API:
 * AES-CM: one keystream Buffer (aes-cm.ts), one Hmac object and its digest. GCM: one Cipher/Decipher
 * object (the IV changes per packet), its update() output, and on protect the tag.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { aesCmIv } from './aes-cm.js';
import { KeyedContext } from './keyed-context.js';
import type { SessionKeys } from './kdf.js';
import { estimateRoc } from './replay.js';
import type { StreamState } from './streams.js';
import type { SrtpSuite } from './suites.js';

/** Why a packet was refused (negative results of protect/unprotect). */
export const SrtpRejection = {
  Malformed: -1,
  Replayed: -2,
  AuthFailed: -3,
  /** The master key's lifetime (SDES `|2^n`) is used up: RFC 3711 §9.2, no packet may use it. */
  KeyExpired: -4,
} as const;

/** RFC 3711 §3.1 / RFC 3550 §5.1: header length including CSRCs and extension; -1 if it does not fit. */
export function rtpHeaderLength(buf: Buffer, length: number): number {
  if (length < 12 || ((buf[0] ?? 0) & 0xc0) !== 0x80) return -1;
  let n = 12 + ((buf[0] ?? 0) & 0x0f) * 4;
  if (((buf[0] ?? 0) & 0x10) !== 0) {
    if (n + 4 > length) return -1;
    n += 4 + buf.readUInt16BE(n + 2) * 4;
  }
  return n <= length ? n : -1;
}

export class SrtpRtpContext extends KeyedContext {
  readonly #roc = Buffer.alloc(4);
  readonly #count = new Float64Array(1);
  readonly #lifetimePackets: number;

  /** `lifetimePackets`: packets this master key may protect/accept (default 2^48, RFC 3711 §9.2). */
  constructor(suite: SrtpSuite, keys: SessionKeys, lifetimePackets = 2 ** 48) {
    super(suite, keys);
    this.#lifetimePackets = lifetimePackets;
  }

  /** Encrypts and authenticates `buf[0, length)` in place; returns the new length or an SrtpRejection. */
  protect(buf: Buffer, length: number): number {
    const header = rtpHeaderLength(buf, length);
    if (header < 0 || buf.length < length + this.suite.rtpTagBytes) return SrtpRejection.Malformed;
    if (!this.#use()) return SrtpRejection.KeyExpired;
    const ssrc = buf.readUInt32BE(8);
    const seq = buf.readUInt16BE(2);
    const stream = this.streams.find(ssrc) ?? this.streams.create(ssrc);
    // The sender's ROC: +1 when the sequence number wrapped since the last packet (§3.3.1).
    if (stream.fresh) {
      stream.fresh = false;
      stream.sl = seq;
    } else if (seq < stream.sl && stream.sl - seq > 0x8000) {
      stream.roc = (stream.roc + 1) >>> 0;
      stream.sl = seq;
    } else if (seq > stream.sl) {
      stream.sl = seq;
    }
    const roc = stream.roc;
    if (this.aes !== undefined) {
      aesCmIv(this.iv, this.keys.salt, ssrc, roc, seq);
      this.aes.xor(this.iv, buf, header, length);
      this.#roc.writeUInt32BE(roc, 0);
      const tag = createHmac('sha1', this.keys.authKey)
        .update(buf.subarray(0, length))
        .update(this.#roc)
        .digest();
      tag.copy(buf, length, 0, this.suite.rtpTagBytes);
      return length + this.suite.rtpTagBytes;
    }
    const cipher = createCipheriv('aes-128-gcm', this.keys.encryptionKey, this.#gcmIvFor(ssrc, roc, seq));
    cipher.setAAD(buf.subarray(0, header));
    const encrypted = cipher.update(buf.subarray(header, length));
    cipher.final();
    encrypted.copy(buf, header);
    cipher.getAuthTag().copy(buf, length);
    return length + 16;
  }

  /** Authenticates and decrypts `buf[0, length)` in place; returns the plaintext length or an SrtpRejection. */
  unprotect(buf: Buffer, length: number): number {
    const tagBytes = this.suite.rtpTagBytes;
    const end = length - tagBytes;
    const header = rtpHeaderLength(buf, end);
    if (header < 0) return SrtpRejection.Malformed;
    const ssrc = buf.readUInt32BE(8);
    const seq = buf.readUInt16BE(2);
    const stream = this.streams.find(ssrc);
    // §3.3.1: a new stream starts at ROC 0 with s_l = its first sequence number.
    const v = stream === undefined ? 0 : estimateRoc(stream.roc, stream.sl, seq);
    if (v < 0 || v > 0xffffffff) return SrtpRejection.Replayed;
    const index = v * 0x10000 + seq;
    if (stream !== undefined && !stream.window.check(index)) return SrtpRejection.Replayed;
    if ((this.#count[0] ?? 0) >= this.#lifetimePackets) return SrtpRejection.KeyExpired;
    if (this.aes !== undefined) {
      this.#roc.writeUInt32BE(v, 0);
      const tag = createHmac('sha1', this.keys.authKey)
        .update(buf.subarray(0, end))
        .update(this.#roc)
        .digest();
      if (!timingSafeEqual(tag.subarray(0, tagBytes), buf.subarray(end, length)))
        return SrtpRejection.AuthFailed;
      aesCmIv(this.iv, this.keys.salt, ssrc, v, seq);
      this.aes.xor(this.iv, buf, header, end);
    } else {
      const decipher = createDecipheriv('aes-128-gcm', this.keys.encryptionKey, this.#gcmIvFor(ssrc, v, seq));
      decipher.setAuthTag(buf.subarray(end, length));
      decipher.setAAD(buf.subarray(0, header));
      const plain = decipher.update(buf.subarray(header, end));
      try {
        decipher.final();
      } catch {
        return SrtpRejection.AuthFailed;
      }
      plain.copy(buf, header);
    }
    this.#use();
    this.#commit(stream ?? this.streams.create(ssrc), v, seq, index);
    return end;
  }

  /** §3.3.1: after authentication, ROC and s_l follow the packet if it is the newest. */
  #commit(stream: StreamState, v: number, seq: number, index: number): void {
    if (stream.fresh) {
      stream.fresh = false;
      stream.roc = v;
      stream.sl = seq;
    } else if (v > stream.roc) {
      stream.roc = v;
      stream.sl = seq;
    } else if (v === stream.roc && seq > stream.sl) {
      stream.sl = seq;
    }
    stream.window.accept(index);
  }

  #use(): boolean {
    const count = this.#count[0] ?? 0;
    if (count >= this.#lifetimePackets) return false;
    this.#count[0] = count + 1;
    return true;
  }

  /** RFC 7714 §8.1: IV = (0^16 || SSRC || ROC || SEQ) XOR salt, 12 octets. */
  #gcmIvFor(ssrc: number, roc: number, seq: number): Buffer {
    const iv = this.gcmIv;
    this.keys.salt.copy(iv, 0, 0, 12);
    iv.writeUInt32BE((iv.readUInt32BE(2) ^ ssrc) >>> 0, 2);
    iv.writeUInt32BE((iv.readUInt32BE(6) ^ roc) >>> 0, 6);
    iv.writeUInt16BE(iv.readUInt16BE(10) ^ seq, 10);
    return iv;
  }
}
