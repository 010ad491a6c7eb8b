/**
 * AES in counter mode as SRTP uses it (RFC 3711 §4.1.1): keystream block j is AES_k(IV + j), IV's low 16
 * bits are zero, so j (< 2^16) is simply written into the last two octets.
 *
 * Allocation: one `aes-128-ecb` cipher per session key, reused for every packet (ECB with padding off
 * keeps no state between update() calls when fed whole blocks), and one preallocated buffer of counter
 * blocks. node:crypto has no "update into" API, so `update()` returns a fresh Buffer of keystream per call:
 * that one allocation per packet is the unavoidable minimum on node:crypto.
 */
import { createCipheriv, type Cipher } from 'node:crypto';

/** Counter blocks prepared per update() call: 2 KiB of keystream covers any RTP packet in one call. */
const BLOCKS_PER_CALL = 128;

export class AesCounterMode {
  readonly #ecb: Cipher;
  readonly #counters = Buffer.alloc(BLOCKS_PER_CALL * 16);

  constructor(key: Buffer) {
    this.#ecb = createCipheriv('aes-128-ecb', key, null);
    this.#ecb.setAutoPadding(false);
  }

  /**
   * XORs the keystream for `iv` (16 octets, low 16 bits zero) into `buf[start, end)`, starting at block
   * `firstBlock`. Encrypts and decrypts alike.
   */
  xor(iv: Buffer, buf: Buffer, start: number, end: number, firstBlock = 0): void {
    const counters = this.#counters;
    let block = firstBlock;
    let offset = start;
    while (offset < end) {
      const bytes = Math.min(end - offset, BLOCKS_PER_CALL * 16);
      const blocks = (bytes + 15) >>> 4;
      for (let j = 0; j < blocks; j++) {
        const at = j << 4;
        iv.copy(counters, at, 0, 14);
        const n = (block + j) & 0xffff;
        counters[at + 14] = ((iv[14] ?? 0) ^ (n >>> 8)) & 0xff;
        counters[at + 15] = ((iv[15] ?? 0) ^ n) & 0xff;
      }
      // The one per-packet allocation of AES-CM on node:crypto (see the file comment).
      const keystream = this.#ecb.update(counters.subarray(0, blocks << 4));
      for (let i = 0; i < bytes; i++) buf[offset + i] = (buf[offset + i] ?? 0) ^ (keystream[i] ?? 0);
      offset += bytes;
      block += blocks;
    }
  }
}

/**
 * RFC 3711 §4.1.1: IV = (k_s · 2^16) XOR (SSRC · 2^64) XOR (i · 2^16), with the 48-bit index i given as its
 * high 32 and low 16 bits (SRTP: ROC and SEQ; SRTCP §3.4: the 31-bit SRTCP index split the same way).
 */
export function aesCmIv(iv: Buffer, salt: Buffer, ssrc: number, indexHigh: number, indexLow: number): void {
  salt.copy(iv, 0, 0, 14);
  iv[14] = 0;
  iv[15] = 0;
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  iv.writeUInt32BE((iv.readUInt32BE(8) ^ indexHigh) >>> 0, 8);
  iv.writeUInt16BE(iv.readUInt16BE(12) ^ indexLow, 12);
}
