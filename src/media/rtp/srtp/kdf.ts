/**
 * SRTP key derivation (RFC 3711 §4.3) with a key derivation rate of 0, the SDES default (RFC 4568 §6.3.1:
 * KDR absent means one derivation per master key): r = index DIV kdr is 0, so key_id = label || 0^48 and
 *
 *   x = key_id XOR master_salt;  session key = AES-CM PRF(master_key, x · 2^16) (§4.3.3)
 *
 * For AEAD_AES_128_GCM (RFC 7714 §11) the same PRF is used; its 96-bit master salt is padded with two zero
 * octets to the 112 bits the PRF takes, as libsrtp does (the label stays at octet 7).
 */
import { createCipheriv } from 'node:crypto';
import type { SrtpSuite } from './suites.js';

/** RFC 3711 §4.3.1 and §4.3.2: the six labels. */
export const KdfLabel = {
  RtpEncryption: 0x00,
  RtpAuth: 0x01,
  RtpSalt: 0x02,
  RtcpEncryption: 0x03,
  RtcpAuth: 0x04,
  RtcpSalt: 0x05,
} as const;

/** The session keys of one direction for RTP or RTCP. */
export interface SessionKeys {
  readonly encryptionKey: Buffer;
  /** 14 octets (AES-CM) or 12 (GCM). */
  readonly salt: Buffer;
  /** HMAC-SHA1 key, 20 octets; empty for AEAD suites. */
  readonly authKey: Buffer;
}

export interface DerivedKeys {
  readonly rtp: SessionKeys;
  readonly rtcp: SessionKeys;
}

/** The AES-CM PRF of §4.3.3: `length` octets of keystream for `label`. Not a hot path (once per key). */
export function deriveSessionKey(
  masterKey: Buffer,
  masterSalt: Buffer,
  label: number,
  length: number,
): Buffer {
  if (masterKey.length !== 16) throw new RangeError('SRTP master key must be 16 octets');
  if (masterSalt.length !== 14 && masterSalt.length !== 12) {
    throw new RangeError('SRTP master salt must be 14 or 12 octets');
  }
  const iv = Buffer.alloc(16);
  masterSalt.copy(iv, 0);
  // key_id (label || r, 56 bits) is right-aligned under the 112-bit salt: the label is octet 7.
  iv[7] = (iv[7] ?? 0) ^ label;
  const cipher = createCipheriv('aes-128-ctr', masterKey, iv);
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

/** Both directions' session keys for one master key + salt under `suite`. */
export function deriveKeys(suite: SrtpSuite, masterKey: Buffer, masterSalt: Buffer): DerivedKeys {
  if (masterSalt.length !== suite.saltBytes) {
    throw new RangeError(`${suite.name} needs a ${suite.saltBytes}-octet master salt`);
  }
  const keys = (enc: number, auth: number, salt: number): SessionKeys => ({
    encryptionKey: deriveSessionKey(masterKey, masterSalt, enc, suite.keyBytes),
    salt: deriveSessionKey(masterKey, masterSalt, salt, suite.saltBytes),
    authKey:
      suite.authKeyBytes === 0
        ? Buffer.alloc(0)
        : deriveSessionKey(masterKey, masterSalt, auth, suite.authKeyBytes),
  });
  return {
    rtp: keys(KdfLabel.RtpEncryption, KdfLabel.RtpAuth, KdfLabel.RtpSalt),
    rtcp: keys(KdfLabel.RtcpEncryption, KdfLabel.RtcpAuth, KdfLabel.RtcpSalt),
  };
}
