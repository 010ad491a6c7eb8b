/**
 * Known-answer tests. RFC 3711 Appendix B.2 (AES-CM keystream) and B.3 (key derivation); the libsrtp
 * `srtp_driver` AES_CM_128_HMAC_SHA1_80 packet (master key in: KDF + AES-CM + HMAC-SHA1 together); RFC 7714
 * §16.1 (SRTP) and §17 (SRTCP) AEAD_AES_128_GCM packets, whose keys are session keys (no KDF). The hex was
 * taken from two independent public reproductions of the RFC text that agree octet for octet; the GCM key
 * derivation (RFC 7714 §11, which has no vector) is checked against baresip in the real-peer test.
 */
import { describe, expect, it } from 'vitest';
import { AesCounterMode } from '../../../../src/media/rtp/srtp/aes-cm.js';
import { deriveKeys, deriveSessionKey, KdfLabel } from '../../../../src/media/rtp/srtp/kdf.js';
import { SrtcpContext } from '../../../../src/media/rtp/srtp/srtcp.js';
import { SrtpRtpContext } from '../../../../src/media/rtp/srtp/srtp-rtp.js';
import { SRTP_SUITES } from '../../../../src/media/rtp/srtp/suites.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('RFC 3711 Appendix B.2: AES-CM keystream', () => {
  it('produces the listed keystream blocks 0–2 and 0xFEFF–0xFF01', () => {
    const aes = new AesCounterMode(hex('2B7E151628AED2A6ABF7158809CF4F3C'));
    const iv = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000');
    const zeros = Buffer.alloc(0xff02 * 16);
    aes.xor(iv, zeros, 0, zeros.length);
    const block = (j: number): string =>
      zeros
        .subarray(j * 16, j * 16 + 16)
        .toString('hex')
        .toUpperCase();
    expect(block(0)).toBe('E03EAD0935C95E80E166B16DD92B4EB4');
    expect(block(1)).toBe('D23513162B02D0F72A43A2FE4A5F97AB');
    expect(block(2)).toBe('41E95B3BB0A2E8DD477901E4FCA894C0');
    expect(block(0xfeff)).toBe('EC8CDF7398607CB0F2D21675EA9EA1E4');
    expect(block(0xff00)).toBe('362B7C3C6773516318A077D7FC5073AE');
    expect(block(0xff01)).toBe('6A2CC3787889374FBEB4C81B17BA6C44');
  });

  it('gives the same keystream when a buffer is processed from a later block', () => {
    const aes = new AesCounterMode(hex('2B7E151628AED2A6ABF7158809CF4F3C'));
    const iv = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000');
    const part = Buffer.alloc(16);
    aes.xor(iv, part, 0, 16, 2);
    expect(part.toString('hex').toUpperCase()).toBe('41E95B3BB0A2E8DD477901E4FCA894C0');
  });
});

describe('RFC 3711 Appendix B.3: key derivation', () => {
  const masterKey = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
  const masterSalt = hex('0EC675AD498AFEEBB6960B3AABE6');

  it('derives the listed cipher key, salt and the first 160 bits of the auth key', () => {
    expect(deriveSessionKey(masterKey, masterSalt, KdfLabel.RtpEncryption, 16).toString('hex')).toBe(
      'c61e7a93744f39ee10734afe3ff7a087',
    );
    expect(deriveSessionKey(masterKey, masterSalt, KdfLabel.RtpSalt, 14).toString('hex')).toBe(
      '30cbbc08863d8c85d49db34a9ae1',
    );
    const keys = deriveKeys(SRTP_SUITES.AES_CM_128_HMAC_SHA1_80, masterKey, masterSalt);
    expect(keys.rtp.authKey.toString('hex')).toBe('cebe321f6ff7716b6fd4ab49af256a156d38baa4');
    // The RFC lists 94 octets of auth keystream; its continuation past the 20 we use:
    expect(deriveSessionKey(masterKey, masterSalt, KdfLabel.RtpAuth, 32).subarray(20).toString('hex')).toBe(
      '8f0a0acf3c34e2359e6cdbce',
    );
  });

  it('refuses master keys and salts of the wrong size with a clear error', () => {
    expect(() => deriveSessionKey(Buffer.alloc(15), masterSalt, 0, 16)).toThrow(/16 octets/);
    expect(() => deriveKeys(SRTP_SUITES.AEAD_AES_128_GCM, masterKey, masterSalt)).toThrow(/12-octet/);
  });
});

describe('libsrtp srtp_driver AES_CM_128_HMAC_SHA1_80 packet (master key in)', () => {
  const keys = deriveKeys(
    SRTP_SUITES.AES_CM_128_HMAC_SHA1_80,
    hex('e1f97a0d3e018be0d64fa32c06de4139'),
    hex('0ec675ad498afeebb6960b3aabe6'),
  );
  const plain = hex('800f1234decafbadcafebabeabababababababababababababababab');
  const protectedPacket = hex(
    '800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb',
  );

  it('protects to the expected ciphertext and tag, and unprotects back', () => {
    const buf = Buffer.alloc(64);
    plain.copy(buf);
    const n = new SrtpRtpContext(SRTP_SUITES.AES_CM_128_HMAC_SHA1_80, keys.rtp).protect(buf, plain.length);
    expect(buf.subarray(0, n).toString('hex')).toBe(protectedPacket.toString('hex'));
    const rx = new SrtpRtpContext(SRTP_SUITES.AES_CM_128_HMAC_SHA1_80, keys.rtp);
    const m = rx.unprotect(buf, n);
    expect(buf.subarray(0, m).toString('hex')).toBe(plain.toString('hex'));
  });
});

describe('RFC 7714 AEAD_AES_128_GCM', () => {
  const session = {
    encryptionKey: hex('000102030405060708090a0b0c0d0e0f'),
    salt: hex('517569642070726f2071756f'),
    authKey: Buffer.alloc(0),
  };
  const gcm = SRTP_SUITES.AEAD_AES_128_GCM;

  it('§16.1: the RTP packet encrypts to the listed ciphertext and tag and decrypts back', () => {
    const plain = hex(
      '8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976 69736120 696e2070 61727465 73207472 6573',
    );
    const expected = hex(
      `8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 0d294e6f 42a5f47a 51c7d19b
       36de3adf 8833 899d7f27 beb16a91 52cf765e e4390cce`,
    );
    const buf = Buffer.alloc(128);
    plain.copy(buf);
    const n = new SrtpRtpContext(gcm, session).protect(buf, plain.length);
    expect(buf.subarray(0, n).toString('hex')).toBe(expected.toString('hex'));
    const m = new SrtpRtpContext(gcm, session).unprotect(buf, n);
    expect(buf.subarray(0, m).toString('hex')).toBe(plain.toString('hex'));
  });

  it('§17: the SRTCP sender report with index 0x5d4 encrypts to the listed packet and decrypts back', () => {
    const plain = hex(
      `81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61
       deadbeef deadbeef deadbeef deadbeef deadbeef`,
    );
    const expected = hex(
      `81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d c676a5f1 730d6fda
       4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4`,
    );
    const buf = Buffer.alloc(128);
    plain.copy(buf);
    const n = new SrtcpContext(gcm, session).protect(buf, plain.length, 0x5d4);
    expect(buf.subarray(0, n).toString('hex')).toBe(expected.toString('hex'));
    const m = new SrtcpContext(gcm, session).unprotect(buf, n);
    expect(buf.subarray(0, m).toString('hex')).toBe(plain.toString('hex'));
  });
});
