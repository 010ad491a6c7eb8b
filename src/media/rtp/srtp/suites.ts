/**
 * The SRTP crypto suites we implement (RFC 4568 §6.2 names, RFC 7714 §14.1 for GCM), with their key, salt
 * and tag sizes. One table, read by the key derivation, the packet transforms and SDES.
 */

export type SrtpSuiteName = 'AEAD_AES_128_GCM' | 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';

export interface SrtpSuite {
  readonly name: SrtpSuiteName;
  /** AEAD (RFC 7714): AES-GCM does encryption and authentication; no HMAC key. */
  readonly aead: boolean;
  /** Master and session encryption key length (AES-128). */
  readonly keyBytes: 16;
  /** Master and session salt length: 112 bits for AES-CM (RFC 3711 §8.2), 96 bits for GCM (RFC 7714 §12). */
  readonly saltBytes: 14 | 12;
  /** Session HMAC-SHA1 key length (RFC 3711 §8.2: n_a = 160 bits); 0 for AEAD. */
  readonly authKeyBytes: 20 | 0;
  /** SRTP authentication tag (RFC 4568 §6.2.1–2: 80 or 32 bits; RFC 7714 §8.3: 16 octets). */
  readonly rtpTagBytes: 10 | 4 | 16;
  /** SRTCP tag: 80 bits for both AES-CM suites (RFC 4568 §6.2.2: _32 shortens the SRTP tag only). */
  readonly rtcpTagBytes: 10 | 16;
}

export const SRTP_SUITES: Readonly<Record<SrtpSuiteName, SrtpSuite>> = {
  AEAD_AES_128_GCM: {
    name: 'AEAD_AES_128_GCM',
    aead: true,
    keyBytes: 16,
    saltBytes: 12,
    authKeyBytes: 0,
    rtpTagBytes: 16,
    rtcpTagBytes: 16,
  },
  AES_CM_128_HMAC_SHA1_80: {
    name: 'AES_CM_128_HMAC_SHA1_80',
    aead: false,
    keyBytes: 16,
    saltBytes: 14,
    authKeyBytes: 20,
    rtpTagBytes: 10,
    rtcpTagBytes: 10,
  },
  AES_CM_128_HMAC_SHA1_32: {
    name: 'AES_CM_128_HMAC_SHA1_32',
    aead: false,
    keyBytes: 16,
    saltBytes: 14,
    authKeyBytes: 20,
    rtpTagBytes: 4,
    rtcpTagBytes: 10,
  },
};

/** Strongest first: the order in which an answer picks among offered suites and an offer lists them. */
export const SRTP_SUITE_PREFERENCE: readonly SrtpSuiteName[] = [
  'AEAD_AES_128_GCM',
  'AES_CM_128_HMAC_SHA1_80',
  'AES_CM_128_HMAC_SHA1_32',
];

export function isSrtpSuiteName(name: string): name is SrtpSuiteName {
  return Object.hasOwn(SRTP_SUITES, name);
}

/** Most bytes protection adds to an RTP packet (the GCM tag). Send buffers keep this much room. */
export const SRTP_MAX_OVERHEAD_BYTES = 16;
/** Most bytes protection adds to an RTCP packet: E||index (4) + the GCM tag (16). */
export const SRTCP_MAX_OVERHEAD_BYTES = 20;
