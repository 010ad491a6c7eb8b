/**
 * HTTP Digest arithmetic shared by both sides of SIP authentication (RFC 3261 §22, RFC 2617 §3.2, RFC 7616
 * §3.4): the hash, the `response` value and the auth-param list of a `Digest …` header. The UAC
 * (embedded/digest.ts) answers challenges with it; the UAS (digest-auth.ts) checks answers with it. A leaf: it
 * imports nothing of either backend. Passwords only ever flow into the hash; never log them.
 */
import { createHash } from 'node:crypto';

/** MD5 or SHA-256 (and their -sess variants), lower-case hex. */
export function digestHash(algorithm: string, data: string): string {
  return createHash(algorithm.toUpperCase().startsWith('SHA-256') ? 'sha256' : 'md5')
    .update(data, 'utf8')
    .digest('hex');
}

export interface DigestResponseInput {
  /** `MD5`, `MD5-sess`, `SHA-256`, `SHA-256-sess` (case-insensitive). */
  readonly algorithm: string;
  readonly realm: string;
  readonly nonce: string;
  readonly username: string;
  readonly password: string;
  readonly method: string;
  readonly uri: string;
}

/**
 * The `response` value (RFC 7616 §3.4.1; RFC 2617 §3.2.2.1): `H(HA1:nonce:nc:cnonce:qop:HA2)`, or
 * `H(HA1:nonce:HA2)` without qop (RFC 2069 compatibility).
 */
export function digestResponse(
  input: DigestResponseInput,
  cnonce: string,
  nc: string,
  qop: string | undefined,
): string {
  const { algorithm: alg, realm, nonce, username, password, method, uri } = input;
  let ha1 = digestHash(alg, `${username}:${realm}:${password}`);
  if (alg.toUpperCase().endsWith('-SESS')) ha1 = digestHash(alg, `${ha1}:${nonce}:${cnonce}`);
  const ha2 = digestHash(alg, `${method}:${uri}`);
  return qop === undefined
    ? digestHash(alg, `${ha1}:${nonce}:${ha2}`)
    : digestHash(alg, `${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
}

/** Splits on commas outside quoted strings (a quoted-pair `\"` does not end the string). */
function splitAuthParams(list: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      parts.push(list.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(list.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/**
 * The auth-params of a `Digest k=v, k="v"` header value (RFC 7235 §2.1): names lower-cased, quoted values
 * unquoted; undefined when the scheme is not Digest. A repeated name keeps its first value.
 */
export function parseDigestParams(value: string): Map<string, string> | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (m === null) return undefined;
  const fields = new Map<string, string>();
  for (const part of splitAuthParams(m[1] as string)) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    let v = part.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    if (!fields.has(name)) fields.set(name, v);
  }
  return fields;
}

/** A value as a quoted-string (RFC 3261 §25.1: `"` and `\` escaped). */
export function quoteDigestValue(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}
