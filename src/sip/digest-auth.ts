/**
 * The UAS side of SIP digest authentication (RFC 3261 §22.2/§22.4, RFC 2617, RFC 7616): stateless nonces,
 * the `WWW-Authenticate` challenge and the check of an `Authorization` answer. No per-nonce state: a nonce is
 * `<issued-at><random><HMAC>`, signed with a server secret over its own fields and what it is bound to (the
 * realm, the caller's address and Call-ID), so a nonce we never issued, or one presented by another call,
 * fails its MAC, and one older than its lifetime is stale (RFC 7616 §3.3: `stale=true` when the nonce is old
 * but the answer is right, so the client retries without asking its user). A replay within the lifetime is
 * possible by design (no nonce-count state); the binding keeps it to the same Call-ID from the same address.
 * Pure: no sockets, the clock is injected.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { digestResponse, parseDigestParams, quoteDigestValue } from './digest-hash.js';

/** What a nonce is bound to: a nonce only verifies for the same realm, source address and Call-ID. */
export interface NonceBinding {
  readonly realm: string;
  readonly sourceAddress: string;
  readonly callId: string;
}

export type NonceState = 'valid' | 'stale' | 'invalid';

export interface NonceSignerOptions {
  /** HMAC key, at least 16 bytes; instances that share it accept each other's nonces. */
  readonly secret: Buffer;
  /** Milliseconds since the epoch; injected for tests. */
  readonly clock?: () => number;
}

const TIME_HEX = 8; // seconds since the epoch, 32 bits
const RANDOM_HEX = 16; // 64 random bits: two challenges never share a nonce
const MAC_HEX = 32; // HMAC-SHA256 truncated to 128 bits
const NONCE_PATTERN = new RegExp(`^[0-9a-f]{${TIME_HEX + RANDOM_HEX + MAC_HEX}}$`);
/** A nonce dated this far in the future (clock skew between instances) is still accepted. */
const FUTURE_SKEW_S = 5;

export class NonceSigner {
  private readonly secret: Buffer;
  private readonly clock: () => number;

  constructor(options: NonceSignerOptions) {
    if (options.secret.length < 16) throw new RangeError('nonce secret must be at least 16 bytes');
    this.secret = options.secret;
    this.clock = options.clock ?? Date.now;
  }

  issue(binding: NonceBinding): string {
    const time = Math.floor(this.clock() / 1000)
      .toString(16)
      .padStart(TIME_HEX, '0');
    const head = time + randomBytes(RANDOM_HEX / 2).toString('hex');
    return head + this.mac(head, binding);
  }

  /** `stale`: ours and bound to this call, but older than `ttlS`; `invalid`: not ours or not for this call. */
  check(nonce: string, binding: NonceBinding, ttlS: number): NonceState {
    if (!NONCE_PATTERN.test(nonce)) return 'invalid';
    const head = nonce.slice(0, TIME_HEX + RANDOM_HEX);
    const expected = Buffer.from(this.mac(head, binding), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(nonce.slice(head.length), 'hex'))) return 'invalid';
    const ageS = Math.floor(this.clock() / 1000) - Number.parseInt(nonce.slice(0, TIME_HEX), 16);
    if (ageS < -FUTURE_SKEW_S) return 'invalid';
    return ageS > ttlS ? 'stale' : 'valid';
  }

  private mac(head: string, b: NonceBinding): string {
    // Length-prefixed fields: no two different bindings serialise to the same bytes.
    const fields = [head, b.realm, b.sourceAddress, b.callId].map((f) => `${f.length}:${f}`).join('|');
    return createHmac('sha256', this.secret).update(fields, 'utf8').digest('hex').slice(0, MAC_HEX);
  }
}

/** The `WWW-Authenticate` value of a 401 (RFC 3261 §22.1; MD5 with qop=auth, RFC 7616 §3.3). */
export function challengeHeader(realm: string, nonce: string, stale: boolean): string {
  const parts = [
    `realm=${quoteDigestValue(realm)}`,
    `nonce=${quoteDigestValue(nonce)}`,
    'algorithm=MD5',
    'qop="auth"',
  ];
  if (stale) parts.push('stale=true');
  return `Digest ${parts.join(', ')}`;
}

/** The fields of an `Authorization: Digest …` answer that the check needs. */
export interface DigestAuthorization {
  readonly username: string;
  readonly realm: string;
  readonly nonce: string;
  readonly uri: string;
  readonly response: string;
  readonly algorithm: string;
  readonly qop: string | undefined;
  readonly nc: string | undefined;
  readonly cnonce: string | undefined;
}

/** undefined when it is not a complete Digest answer (then the caller is challenged again). */
export function parseAuthorization(value: string): DigestAuthorization | undefined {
  const f = parseDigestParams(value);
  if (f === undefined) return undefined;
  const username = f.get('username');
  const realm = f.get('realm');
  const nonce = f.get('nonce');
  const uri = f.get('uri');
  const response = f.get('response');
  if (username === undefined || realm === undefined || nonce === undefined) return undefined;
  if (uri === undefined || response === undefined) return undefined;
  return {
    username,
    realm,
    nonce,
    uri,
    response: response.toLowerCase(),
    algorithm: f.get('algorithm') ?? 'MD5',
    qop: f.get('qop')?.toLowerCase(),
    nc: f.get('nc'),
    cnonce: f.get('cnonce'),
  };
}

/**
 * True when the answer matches `password` for `method`. Only what we offer is accepted: MD5 with qop=auth
 * (an 8-hex-digit nc and a cnonce, RFC 2617 §3.2.2); anything else is a wrong answer. The comparison is
 * constant-time; a wrong username is checked like a wrong password, so neither is told apart.
 */
export function verifyAuthorization(
  auth: DigestAuthorization,
  expected: { readonly method: string; readonly username: string; readonly password: string },
): boolean {
  const wellFormed =
    auth.algorithm.toUpperCase() === 'MD5' &&
    auth.qop === 'auth' &&
    auth.nc !== undefined &&
    /^[0-9a-fA-F]{8}$/.test(auth.nc) &&
    auth.cnonce !== undefined &&
    auth.cnonce.length > 0;
  const computed = digestResponse(
    {
      algorithm: 'MD5',
      realm: auth.realm,
      nonce: auth.nonce,
      username: expected.username,
      password: expected.password,
      method: expected.method,
      uri: auth.uri,
    },
    auth.cnonce ?? '',
    auth.nc ?? '',
    'auth',
  );
  const given = Buffer.from(/^[0-9a-f]{32}$/.test(auth.response) ? auth.response : '0'.repeat(32), 'hex');
  const responseOk = timingSafeEqual(Buffer.from(computed, 'hex'), given);
  const userOk = safeEqual(auth.username, expected.username);
  return wellFormed && responseOk && userOk;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
