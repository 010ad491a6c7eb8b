/**
 * SDES (RFC 4568): the `a=crypto` attributes of an audio stream, read and written, and the per-call SRTP
 * policy (`off | optional | required`) applied to an offer. Pure apart from the key source (injectable).
 *
 * What we take (RFC 4568 §6.1, §9.1): one `inline:` key per attribute, base64 of master key || salt (30
 * octets for the AES-CM suites, 28 for AEAD_AES_128_GCM, RFC 7714 §12), an optional lifetime `|2^n` or
 * `|n`, and session parameters limited to `KDR=0`. Refused with a reason per attribute: an MKI (`|v:len`,
 * we send and expect none), several keys in one attribute, another KDR (we derive once per key),
 * UNENCRYPTED_SRTP / UNENCRYPTED_SRTCP / UNAUTHENTICATED_SRTP, FEC_ORDER, FEC_KEY, WSH and unknown suites.
 *
 * Keys are secrets: nothing here logs, and no reason text contains key material.
 */
import { randomBytes } from 'node:crypto';
import { parse, type MediaDescription } from 'sdp-transform';
import type { MediaSecurity, SdpFailure } from './sdp.js';

export type SrtpPolicy = 'off' | 'optional' | 'required';
export type SdesSuite = 'AEAD_AES_128_GCM' | 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';

/** Strongest first (RFC 7714 AEAD, then the 80- and 32-bit HMAC tags). */
export const SDES_SUITES: readonly SdesSuite[] = [
  'AEAD_AES_128_GCM',
  'AES_CM_128_HMAC_SHA1_80',
  'AES_CM_128_HMAC_SHA1_32',
];
const SALT_BYTES: Readonly<Record<SdesSuite, number>> = {
  AEAD_AES_128_GCM: 12,
  AES_CM_128_HMAC_SHA1_80: 14,
  AES_CM_128_HMAC_SHA1_32: 14,
};
const KEY_BYTES = 16;

/** A master key and salt with its lifetime in packets (absent: the RFC 3711 maximum). */
export interface SdesKey {
  readonly key: Buffer;
  readonly salt: Buffer;
  readonly lifetimePackets?: number;
}

/** The outcome of SDES for one call: the suite, our key (we send with it) and the peer's. */
export interface SdesKeying {
  readonly suite: SdesSuite;
  /** The a=crypto tag the offer/answer agreed on. */
  readonly tag: number;
  readonly local: SdesKey;
  readonly remote: SdesKey;
}

/** An a=crypto line as sdp-transform holds it. */
export type CryptoLine = NonNullable<MediaDescription['crypto']>[number];

export const WARNING_SRTP_REQUIRED = '399 switchboard "SRTP required"';
export const WARNING_SRTP_OFF = '399 switchboard "SRTP not accepted here"';
export const WARNING_SRTP_KEYS = '399 switchboard "No acceptable SRTP crypto attribute"';

const PLAIN = new Set(['RTP/AVP', 'RTP/AVPF']);
const SECURE = new Set(['RTP/SAVP', 'RTP/SAVPF']);

/** A lifetime shorter than this is refused: a call would outlive it and we do not re-key by ourselves. */
const MIN_LIFETIME_PACKETS = 2 ** 20;

export type ParsedCrypto =
  | { readonly ok: true; readonly tag: number; readonly suite: SdesSuite; readonly key: SdesKey }
  | { readonly ok: false; readonly reason: string };

function isSuite(name: string): name is SdesSuite {
  return (SDES_SUITES as readonly string[]).includes(name);
}

/** RFC 4568 §6.1 lifetime: `2^n` or a decimal packet count. */
function parseLifetime(text: string): number | undefined {
  const pow = /^2\^(\d{1,2})$/.exec(text);
  if (pow?.[1] !== undefined) return 2 ** Number(pow[1]);
  return /^\d{1,15}$/.test(text) ? Number(text) : undefined;
}

/** Reads one a=crypto attribute; a refusal says why in words that contain no key material. */
export function parseCryptoLine(line: CryptoLine): ParsedCrypto {
  const tag = line.id;
  if (!Number.isInteger(tag) || tag < 0 || tag > 999_999_999) return { ok: false, reason: 'invalid tag' };
  if (!isSuite(line.suite)) return { ok: false, reason: 'unsupported crypto suite' };
  const session = (line.sessionConfig ?? '').trim();
  if (session !== '' && !/^KDR=0$/i.test(session)) {
    return { ok: false, reason: 'unsupported session parameter (only KDR=0)' };
  }
  const params = line.config.split(';');
  if (params.length !== 1) return { ok: false, reason: 'several keys in one attribute (not supported)' };
  const m = /^inline:([A-Za-z0-9+/=]+)((?:\|[^|]*)*)$/.exec(params[0] ?? '');
  if (m?.[1] === undefined) return { ok: false, reason: 'key parameter is not inline:<base64>' };
  const material = Buffer.from(m[1], 'base64');
  const saltBytes = SALT_BYTES[line.suite];
  if (material.length !== KEY_BYTES + saltBytes) {
    return { ok: false, reason: `key must be ${KEY_BYTES + saltBytes} octets for ${line.suite}` };
  }
  let lifetimePackets: number | undefined;
  for (const extra of (m[2] ?? '').split('|').slice(1)) {
    if (extra.includes(':')) return { ok: false, reason: 'MKI not supported' };
    const lifetime = parseLifetime(extra);
    if (lifetime === undefined || lifetimePackets !== undefined) {
      return { ok: false, reason: 'invalid key lifetime' };
    }
    if (lifetime < MIN_LIFETIME_PACKETS) return { ok: false, reason: 'key lifetime below 2^20 packets' };
    lifetimePackets = lifetime;
  }
  const key: SdesKey = {
    key: material.subarray(0, KEY_BYTES),
    salt: material.subarray(KEY_BYTES),
    ...(lifetimePackets === undefined ? {} : { lifetimePackets }),
  };
  return { ok: true, tag, suite: line.suite, key };
}

/** A fresh master key + salt for `suite` from `random` (node:crypto by default). */
export function newSdesKey(suite: SdesSuite, random: (n: number) => Buffer = randomBytes): SdesKey {
  const material = random(KEY_BYTES + SALT_BYTES[suite]);
  return { key: material.subarray(0, KEY_BYTES), salt: material.subarray(KEY_BYTES) };
}

/** Our a=crypto line for `key`. */
export function cryptoLine(tag: number, suite: SdesSuite, key: SdesKey): CryptoLine {
  return { id: tag, suite, config: `inline:${Buffer.concat([key.key, key.salt]).toString('base64')}` };
}

function sameKey(a: SdesKey, b: SdesKey): boolean {
  return a.key.equals(b.key) && a.salt.equals(b.salt);
}

/** The offered lines we can use, strongest suite first (ties: the offer's order). */
function usable(m: MediaDescription): { usable: Extract<ParsedCrypto, { ok: true }>[]; reasons: string[] } {
  const parsed = (m.crypto ?? []).map(parseCryptoLine);
  const ok = parsed.filter((p): p is Extract<ParsedCrypto, { ok: true }> => p.ok);
  ok.sort((a, b) => SDES_SUITES.indexOf(a.suite) - SDES_SUITES.indexOf(b.suite));
  return { usable: ok, reasons: parsed.flatMap((p) => (p.ok ? [] : [p.reason])) };
}

function refused(warning: string, detail: string): SdpFailure {
  return { ok: false, status: 488, warning, detail };
}

/**
 * The answerer's side of SDES under a policy, handed to negotiateAnswer as its {@link MediaSecurity}:
 * `off` answers only plain profiles (an RTP/SAVP-only offer gets 488); `optional` answers RTP/SAVP with
 * SRTP and RTP/AVP with RTP; `required` refuses any stream without a usable key. An RTP/AVP offer carrying
 * a=crypto (best-effort SRTP, as baresip `mediaenc=srtp` and Asterisk send) is answered with SRTP unless
 * the policy is off. `current`: the keying in effect (a re-offer that repeats the peer's key keeps ours).
 */
export class SdesAnswerer implements MediaSecurity {
  readonly #policy: SrtpPolicy;
  readonly #current: SdesKeying | undefined;
  readonly #random: (n: number) => Buffer;

  constructor(policy: SrtpPolicy, options: { current?: SdesKeying; random?: (n: number) => Buffer } = {}) {
    this.#policy = policy;
    this.#current = options.current;
    this.#random = options.random ?? randomBytes;
  }

  accepts(protocol: string): boolean {
    if (this.#policy === 'off') return PLAIN.has(protocol);
    return PLAIN.has(protocol) || SECURE.has(protocol);
  }

  get refusal(): SdpFailure {
    return this.#policy === 'off'
      ? refused(WARNING_SRTP_OFF, 'srtp is off for this number and the offer has only RTP/SAVP audio')
      : refused(WARNING_SRTP_REQUIRED, 'no audio stream with a profile we answer');
  }

  answer(
    m: MediaDescription,
  ): { readonly ok: true; readonly crypto?: CryptoLine; readonly srtp?: SdesKeying } | SdpFailure {
    const secure = SECURE.has(m.protocol);
    if (this.#policy === 'off') return { ok: true };
    const { usable: lines, reasons } = usable(m);
    const chosen = lines[0];
    if (chosen === undefined) {
      const why =
        reasons.length > 0 ? `offered a=crypto refused: ${reasons.join('; ')}` : 'the offer has no a=crypto';
      if (secure) return refused(WARNING_SRTP_KEYS, why);
      if (this.#policy === 'required') return refused(WARNING_SRTP_REQUIRED, `srtp is required; ${why}`);
      // optional: a plain offer (or best-effort a=crypto we cannot use) is answered with plain RTP.
      return { ok: true };
    }
    const current = this.#current;
    // RFC 4568 §7.1.4: a re-offer repeating the key in use changes nothing, so our key stays too.
    const local =
      current !== undefined && current.suite === chosen.suite && sameKey(current.remote, chosen.key)
        ? current.local
        : newSdesKey(chosen.suite, this.#random);
    const srtp: SdesKeying = { suite: chosen.suite, tag: chosen.tag, local, remote: chosen.key };
    return { ok: true, crypto: cryptoLine(chosen.tag, chosen.suite, local), srtp };
  }
}

/** The a=crypto lines of an offer: one fresh key per suite we support, tags 1.., strongest first. */
export function offerCrypto(random: (n: number) => Buffer = randomBytes): {
  readonly lines: CryptoLine[];
  readonly keys: ReadonlyMap<number, { suite: SdesSuite; key: SdesKey }>;
} {
  const keys = new Map<number, { suite: SdesSuite; key: SdesKey }>();
  const lines = SDES_SUITES.map((suite, i) => {
    const key = newSdesKey(suite, random);
    keys.set(i + 1, { suite, key });
    return cryptoLine(i + 1, suite, key);
  });
  return { lines, keys };
}

/**
 * The keying an answer to our {@link offerCrypto} offer settled (RFC 4568 §7.1.2: the answer names one of
 * our tags with the same suite and its own key). Undefined: the answer has no a=crypto (plain RTP);
 * `{ ok: false }`: it has one we cannot use.
 */
export function answeredCrypto(
  offered: ReturnType<typeof offerCrypto>,
  answerSdp: string,
): { readonly ok: true; readonly srtp?: SdesKeying } | { readonly ok: false; readonly reason: string } {
  let media: MediaDescription | undefined;
  try {
    media = parse(answerSdp).media.find((m) => m.type === 'audio' && m.port !== 0);
  } catch {
    return { ok: false, reason: 'unreadable answer' };
  }
  const lines = media?.crypto ?? [];
  const first = lines[0];
  if (first === undefined) return { ok: true };
  const parsed = parseCryptoLine(first);
  if (!parsed.ok) return { ok: false, reason: parsed.reason };
  const ours = offered.keys.get(parsed.tag);
  if (ours === undefined || ours.suite !== parsed.suite) {
    return { ok: false, reason: 'answer a=crypto does not match an offered tag and suite' };
  }
  return { ok: true, srtp: { suite: parsed.suite, tag: parsed.tag, local: ours.key, remote: parsed.key } };
}
