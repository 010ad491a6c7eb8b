/**
 * Who is calling, as the network asserts it: P-Asserted-Identity (RFC 3325 §9.1), Remote-Party-ID
 * (draft-ietf-sip-privacy-04, still sent by many PBXs and carriers), Diversion (RFC 5806) and History-Info
 * (RFC 7044), plus Privacy (RFC 3323) and operator-chosen `X-` headers. Everything here comes from a peer and
 * is untrusted: each header is read up to MAX_HEADER_CHARS, at most MAX_ENTRIES values, and every value that
 * leaves this file is `cleanValue`d — control characters (CR, LF, NUL, …) removed, at most MAX_VALUE_CHARS.
 * Nothing parsed here is ever written back into a SIP message.
 */
import { parseNameAddr, parseUri, splitList } from './embedded/syntax.js';

export const MAX_VALUE_CHARS = 128;
const MAX_HEADER_CHARS = 2048;
const MAX_ENTRIES = 8;

export interface PartyIdentity {
  /** The URI as received (cleaned). */
  readonly uri: string;
  /** The user part of a sip:/sips: URI or the number of a tel: URI, percent-decoded; '' when none. */
  readonly number: string;
  readonly name: string | undefined;
  /** Header parameters (lower-case names), cleaned: `reason`, `counter`, `privacy`, `index`, … */
  readonly params: Readonly<Record<string, string>>;
}

export interface CallerIdentity {
  /** RFC 3325: up to one sip:/sips: and one tel: identity. */
  readonly assertedIdentities: readonly PartyIdentity[];
  readonly remotePartyId: PartyIdentity | undefined;
  /** RFC 5806: the most recent diversion first (each diverting proxy adds its value on top). */
  readonly diversions: readonly PartyIdentity[];
  /** RFC 7044: entries in received order (the first is the original target). */
  readonly historyInfo: readonly PartyIdentity[];
  readonly privacy: string | undefined;
  /** Configured extra headers present on the INVITE: configured name → cleaned first value. */
  readonly headers: Readonly<Record<string, string>>;
}

/** Control characters (C0, DEL, C1) and the Unicode line/paragraph separators: never in a value. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Untrusted text → at most MAX_VALUE_CHARS printable characters, trimmed. */
export function cleanValue(text: string): string {
  return text.replace(CONTROL, '').trim().slice(0, MAX_VALUE_CHARS);
}

function decodeUser(user: string): string {
  try {
    return decodeURIComponent(user);
  } catch {
    return user;
  }
}

function party(value: string): PartyIdentity | undefined {
  const parsed = parseNameAddr(value);
  if (parsed === undefined) return undefined;
  // History-Info carries the Reason of a retarget as a URI header (`?Reason=SIP%3Bcause%3D302`).
  const [uriText = '', uriHeaders = ''] = parsed.uri.split('?', 2);
  const uri = parseUri(uriText);
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of parsed.params) {
    if (Object.keys(params).length >= MAX_ENTRIES) break;
    params[cleanValue(k)] = cleanValue(v ?? '');
  }
  for (const h of uriHeaders.split('&')) {
    const [k = '', v = ''] = h.split('=', 2);
    if (k.toLowerCase() === 'reason' && params.reason === undefined)
      params.reason = cleanValue(decodeUser(v));
  }
  const name = parsed.displayName === undefined ? undefined : cleanValue(parsed.displayName);
  return {
    uri: cleanValue(uriText),
    number: uri === undefined ? '' : cleanValue(decodeUser(uri.user)),
    name: name === '' ? undefined : name,
    params,
  };
}

/** Every value of a header: each line (at most MAX_HEADER_CHARS of it) split on top-level commas. */
function entries(lines: readonly string[]): PartyIdentity[] {
  const out: PartyIdentity[] = [];
  for (const line of lines.slice(0, MAX_ENTRIES)) {
    for (const value of splitList(line.slice(0, MAX_HEADER_CHARS))) {
      if (out.length >= MAX_ENTRIES) return out;
      const p = party(value);
      if (p !== undefined) out.push(p);
    }
  }
  return out;
}

/** An `X-` header name an operator may list in a dialplan (`headers: [X-Account-Id]`). */
export const EXTRA_HEADER_NAME = /^X-[A-Za-z0-9-]{1,64}$/;

/**
 * The identity of an INVITE. `values(name)` returns every line of a header (the Signaling backends'
 * `IncomingCall.headerValues`); `extraHeaders` are the configured X- header names to copy.
 */
export function parseCallerIdentity(
  values: (name: string) => readonly string[],
  extraHeaders: readonly string[] = [],
): CallerIdentity {
  const history = entries(values('History-Info'));
  // RFC 7044 §10.2: entries are ordered by their index (1, 1.1, 1.1.1, …), which is the received order
  // from a compliant proxy; sort anyway so a reordering proxy does not swap "original" and "last".
  const indexKey = (p: PartyIdentity): number[] =>
    (p.params.index ?? '').split('.').map((n) => Number(n) || 0);
  history.sort((a, b) => {
    const [x, y] = [indexKey(a), indexKey(b)];
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      const d = (x[i] ?? -1) - (y[i] ?? -1);
      if (d !== 0) return d;
    }
    return 0;
  });
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name of extraHeaders) {
    if (!EXTRA_HEADER_NAME.test(name)) continue;
    const first = values(name)[0];
    if (first !== undefined) headers[name] = cleanValue(first.slice(0, MAX_HEADER_CHARS));
  }
  const privacy = values('Privacy')[0];
  return {
    assertedIdentities: entries(values('P-Asserted-Identity')).slice(0, 2),
    remotePartyId: entries(values('Remote-Party-ID'))[0],
    diversions: entries(values('Diversion')),
    historyInfo: history,
    privacy: privacy === undefined ? undefined : cleanValue(privacy),
    headers,
  };
}
