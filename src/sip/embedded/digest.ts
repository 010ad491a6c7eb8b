/**
 * HTTP Digest for SIP (RFC 3261 §22, RFC 2617, RFC 7616): MD5, SHA-256 and their -sess variants, qop=auth
 * (or no qop, RFC 2069 style). The password only ever flows into the hash; never log it.
 */
import { randomBytes } from 'node:crypto';
import { digestResponse as responseFor, parseDigestParams, quoteDigestValue } from '../digest-hash.js';

export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  readonly opaque: string | undefined;
  readonly algorithm: string;
  readonly qop: readonly string[];
  readonly stale: boolean;
}

export interface DigestInput {
  readonly challenge: DigestChallenge;
  readonly method: string;
  readonly uri: string;
  readonly username: string;
  readonly password: string;
  /** Injected for test vectors; random otherwise. */
  readonly cnonce?: string;
  readonly nc?: number;
}

const SUPPORTED = new Set(['MD5', 'MD5-SESS', 'SHA-256', 'SHA-256-SESS']);

/** Parse a `WWW-Authenticate`/`Proxy-Authenticate` value; undefined when it is not a usable Digest challenge. */
export function parseChallenge(value: string): DigestChallenge | undefined {
  const fields = parseDigestParams(value);
  if (fields === undefined) return undefined;
  const realm = fields.get('realm');
  const nonce = fields.get('nonce');
  if (realm === undefined || nonce === undefined) return undefined;
  const algorithm = (fields.get('algorithm') ?? 'MD5').toUpperCase();
  if (!SUPPORTED.has(algorithm)) return undefined;
  return {
    realm,
    nonce,
    opaque: fields.get('opaque'),
    algorithm,
    qop: (fields.get('qop') ?? '')
      .split(',')
      .map((q) => q.trim().toLowerCase())
      .filter((q) => q.length > 0),
    stale: (fields.get('stale') ?? '').toLowerCase() === 'true',
  };
}

/** Prefer SHA-256 over MD5 when a server offers several challenges (RFC 7616 §3.7). */
export function pickChallenge(values: readonly string[]): DigestChallenge | undefined {
  const parsed = values.map(parseChallenge).filter((c): c is DigestChallenge => c !== undefined);
  return parsed.find((c) => c.algorithm.startsWith('SHA-256')) ?? parsed[0];
}

/** The `response` value (RFC 7616 §3.4.1). */
export function digestResponse(
  input: DigestInput,
  cnonce: string,
  nc: string,
  qop: string | undefined,
): string {
  const { challenge } = input;
  return responseFor(
    { ...input, algorithm: challenge.algorithm, realm: challenge.realm, nonce: challenge.nonce },
    cnonce,
    nc,
    qop,
  );
}

/** A complete `Authorization`/`Proxy-Authorization` header value. */
export function authorizationHeader(input: DigestInput): string {
  const { challenge } = input;
  const qop = challenge.qop.includes('auth') ? 'auth' : undefined;
  const cnonce = input.cnonce ?? randomBytes(12).toString('hex');
  const nc = (input.nc ?? 1).toString(16).padStart(8, '0');
  const response = digestResponse(input, cnonce, nc, qop);
  const parts = [
    `username=${quoteDigestValue(input.username)}`,
    `realm=${quoteDigestValue(challenge.realm)}`,
    `nonce=${quoteDigestValue(challenge.nonce)}`,
    `uri=${quoteDigestValue(input.uri)}`,
    `response="${response}"`,
    `algorithm=${challenge.algorithm}`,
  ];
  if (qop !== undefined) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
  if (challenge.opaque !== undefined) parts.push(`opaque=${quoteDigestValue(challenge.opaque)}`);
  return `Digest ${parts.join(', ')}`;
}
