/**
 * HTTP Digest for SIP (RFC 3261 §22, RFC 2617, RFC 7616): MD5, SHA-256 and their -sess variants, qop=auth
 * (or no qop, RFC 2069 style). The password only ever flows into the hash; never log it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { splitList } from './syntax.js';

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
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (m === null) return undefined;
  const fields = new Map<string, string>();
  for (const part of splitList(m[1] as string)) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    let v = part.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    fields.set(part.slice(0, eq).trim().toLowerCase(), v);
  }
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

function hash(algorithm: string, data: string): string {
  return createHash(algorithm.startsWith('SHA-256') ? 'sha256' : 'md5')
    .update(data, 'utf8')
    .digest('hex');
}

/** The `response` value (RFC 7616 §3.4.1). */
export function digestResponse(
  input: DigestInput,
  cnonce: string,
  nc: string,
  qop: string | undefined,
): string {
  const { challenge, username, password, method, uri } = input;
  const alg = challenge.algorithm;
  let ha1 = hash(alg, `${username}:${challenge.realm}:${password}`);
  if (alg.endsWith('-SESS')) ha1 = hash(alg, `${ha1}:${challenge.nonce}:${cnonce}`);
  const ha2 = hash(alg, `${method}:${uri}`);
  return qop === undefined
    ? hash(alg, `${ha1}:${challenge.nonce}:${ha2}`)
    : hash(alg, `${ha1}:${challenge.nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
}

/** A complete `Authorization`/`Proxy-Authorization` header value. */
export function authorizationHeader(input: DigestInput): string {
  const { challenge } = input;
  const qop = challenge.qop.includes('auth') ? 'auth' : undefined;
  const cnonce = input.cnonce ?? randomBytes(12).toString('hex');
  const nc = (input.nc ?? 1).toString(16).padStart(8, '0');
  const response = digestResponse(input, cnonce, nc, qop);
  const parts = [
    `username="${quote(input.username)}"`,
    `realm="${quote(challenge.realm)}"`,
    `nonce="${quote(challenge.nonce)}"`,
    `uri="${quote(input.uri)}"`,
    `response="${response}"`,
    `algorithm=${challenge.algorithm}`,
  ];
  if (qop !== undefined) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
  if (challenge.opaque !== undefined) parts.push(`opaque="${quote(challenge.opaque)}"`);
  return `Digest ${parts.join(', ')}`;
}

function quote(value: string): string {
  return value.replace(/["\\]/g, '\\$&');
}
