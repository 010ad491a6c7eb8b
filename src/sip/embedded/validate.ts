/**
 * §8.2 / §16.3 request validation before anything else looks at a request. A request we cannot even address
 * a response to (no usable Via/From/To/Call-ID/CSeq) is dropped; anything else that is wrong gets a 400 whose
 * reason phrase says what is wrong.
 */
import type { SipRequest } from './message.js';
import { parseCSeq, parseNameAddr, parseUri, parseVia } from './syntax.js';

export type Validation =
  | { readonly ok: true }
  | { readonly ok: false; readonly respond: false; readonly error: string }
  | { readonly ok: false; readonly respond: true; readonly status: number; readonly reason: string };

/** Can a response be built at all (§8.2.6.2 copies Via, From, To, Call-ID, CSeq)? */
export function canRespond(request: SipRequest): boolean {
  const via = request.headers.get('Via');
  const cseq = request.headers.get('CSeq');
  return (
    via !== undefined &&
    parseVia(via) !== undefined &&
    request.headers.has('From') &&
    request.headers.has('To') &&
    request.headers.has('Call-ID') &&
    cseq !== undefined &&
    parseCSeq(cseq) !== undefined
  );
}

export function validateRequest(request: SipRequest): Validation {
  if (!canRespond(request)) {
    return { ok: false, respond: false, error: 'missing or malformed Via/From/To/Call-ID/CSeq' };
  }
  const bad = (reason: string): Validation => ({ ok: false, respond: true, status: 400, reason });
  for (const via of request.headers.getAll('Via')) {
    if (parseVia(via) === undefined) return bad('Bad Request - Malformed Via');
  }
  // §8.1.1.7: every request carries a branch; without one no transaction can be matched.
  if (parseVia(request.headers.get('Via') ?? '')?.params.get('branch') === undefined) {
    return bad('Bad Request - Missing Via branch');
  }
  if (parseUri(request.uri) === undefined) return bad('Bad Request - Malformed Request-URI');
  const from = parseNameAddr(request.headers.get('From') ?? '');
  if (from === undefined) return bad('Bad Request - Malformed From');
  const to = parseNameAddr(request.headers.get('To') ?? '');
  if (to === undefined) return bad('Bad Request - Malformed To');
  if (request.headers.count('Call-ID') > 1 || (request.headers.get('Call-ID') ?? '').trim() === '') {
    return bad('Bad Request - Malformed Call-ID');
  }
  const cseq = parseCSeq(request.headers.get('CSeq') ?? '');
  if (cseq === undefined || request.headers.count('CSeq') > 1) return bad('Bad Request - Malformed CSeq');
  if (cseq.method !== request.method) return bad('Bad Request - CSeq method does not match');
  const maxForwards = request.headers.get('Max-Forwards');
  if (maxForwards === undefined) {
    // §8.1.1.6 makes it mandatory, but many test clients omit it on ACK/CANCEL; only INVITE insists.
    if (request.method === 'INVITE') return bad('Bad Request - Missing Max-Forwards');
  } else if (!/^\d{1,3}$/.test(maxForwards)) {
    return bad('Bad Request - Malformed Max-Forwards');
  } else if (Number(maxForwards) === 0 && request.method !== 'OPTIONS' && request.method !== 'ACK') {
    return { ok: false, respond: true, status: 483, reason: 'Too Many Hops' };
  }
  return { ok: true };
}
