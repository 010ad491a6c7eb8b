/**
 * §8.2 / §16.3 request validation before anything else looks at a request. Every request that is recognisably
 * a request (not an ACK) gets an answer: 400 with a reason phrase saying what is wrong, 416 for a Request-URI
 * scheme we do not serve (§8.2.2.1), 483 when Max-Forwards is used up. A response is built from whatever
 * Via/From/To/Call-ID/CSeq the request has (a missing Via means "answer the source address", §18.2.2).
 */
import type { SipRequest } from './message.js';
import { parseCSeq, parseNameAddr, parseUri, parseVia } from './syntax.js';

export type Validation =
  | { readonly ok: true }
  | { readonly ok: false; readonly respond: false; readonly error: string }
  | { readonly ok: false; readonly respond: true; readonly status: number; readonly reason: string };

// Liberal beyond §25.1 in one way: unquoted UTF-8 (some carriers send `From: José <sip:…>`) is accepted;
// the separators RFC 4475 §3.1.2.15 is about (comma, quote, angle brackets, …) are not.
const TOKEN = "[A-Za-z0-9.!%*_+`'~\\u0080-\\uFFFF-]+";
/** §25.1 display-name = *(token LWS) / quoted-string. */
const DISPLAY_NAME_RE = new RegExp(`^(?:"(?:[^"\\\\]|\\\\[\\s\\S])*"|${TOKEN}(?:\\s+${TOKEN})*)?$`);
/** §19.1.1: a URI scheme (syntactically valid even when we do not support it). */
const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * Why a name-addr / addr-spec header value breaks §20.10 / §25.1, or undefined when it is fine:
 * an unbalanced quote, non-token characters in an unquoted display name (RFC 4475 §3.1.2.15), LWS inside
 * the angle brackets (§3.1.2.14), or an addr-spec holding '?' or ',' that needed the brackets (§3.1.2.13).
 */
export function nameAddrProblem(value: string): string | undefined {
  const parsed = parseNameAddr(value);
  if (parsed === undefined) return 'unparseable';
  const text = value.trim();
  const lt = text.indexOf(`<${parsed.uri}`);
  if (lt < 0) {
    if (text.includes('<')) return 'LWS inside <>';
    const spec = text.split(';')[0] ?? '';
    return /[?,]/.test(spec) ? 'URI with headers must be in name-addr form' : undefined;
  }
  if (!text.startsWith(`<${parsed.uri}>`, lt)) return 'LWS inside <>';
  if (!DISPLAY_NAME_RE.test(text.slice(0, lt).trim())) return 'malformed display name';
  return undefined;
}

export function validateRequest(request: SipRequest): Validation {
  const bad = (reason: string): Validation => ({ ok: false, respond: true, status: 400, reason });
  const vias = request.headers.getAll('Via');
  if (vias.length === 0) return bad('Bad Request - Missing Via');
  for (const via of vias) {
    if (parseVia(via) === undefined) return bad('Bad Request - Malformed Via');
  }
  for (const name of ['From', 'To', 'Call-ID', 'CSeq'] as const) {
    const count = request.headers.count(name);
    if (count === 0) return bad(`Bad Request - Missing ${name}`);
    // §7.3.1: these are single-valued; two of them cannot be told apart.
    if (count > 1) return bad(`Bad Request - Multiple ${name}`);
  }
  const cseq = parseCSeq(request.headers.get('CSeq') ?? '');
  // §8.1.1.5: the sequence number fits in 32 bits (RFC 4475 §3.1.2.4) and the method matches the request line.
  if (cseq === undefined) return bad('Bad Request - Malformed CSeq');
  if (cseq.method !== request.method) return bad('Bad Request - CSeq method does not match');
  const callId = request.headers.get('Call-ID') ?? '';
  if (callId.trim() === '' || /\s/.test(callId.trim())) return bad('Bad Request - Malformed Call-ID');
  for (const name of ['From', 'To'] as const) {
    if (nameAddrProblem(request.headers.get(name) ?? '') !== undefined)
      return bad(`Bad Request - Malformed ${name}`);
  }
  for (const contact of request.headers.getAll('Contact')) {
    if (contact.trim() !== '*' && nameAddrProblem(contact) !== undefined) {
      return bad('Bad Request - Malformed Contact');
    }
  }
  const uri = request.uri;
  if (parseUri(uri) === undefined) {
    // §8.2.2.1: a well-formed URI of a scheme we do not know is 416; anything else is malformed.
    if (SCHEME_RE.test(uri) && !/^(sips?|tel):/i.test(uri) && !/[<>"\s]/.test(uri)) {
      return { ok: false, respond: true, status: 416, reason: 'Unsupported URI Scheme' };
    }
    return bad('Bad Request - Malformed Request-URI');
  }
  // §19.1.1 table 1: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
  if (uri.slice(uri.lastIndexOf('@') + 1).includes('?')) return bad('Bad Request - Headers in Request-URI');
  const maxForwards = request.headers.get('Max-Forwards');
  if (maxForwards === undefined) {
    // §8.1.1.6 makes it mandatory, but many test clients omit it on ACK/CANCEL; only INVITE insists.
    if (request.method === 'INVITE') return bad('Bad Request - Missing Max-Forwards');
  } else if (!/^\d{1,9}$/.test(maxForwards)) {
    return bad('Bad Request - Malformed Max-Forwards');
  } else if (Number(maxForwards) === 0 && request.method !== 'OPTIONS' && request.method !== 'ACK') {
    // §16.3 step 3: an exhausted Max-Forwards is 483, except OPTIONS, which the element may answer itself.
    return { ok: false, respond: true, status: 483, reason: 'Too Many Hops' };
  }
  return { ok: true };
}
