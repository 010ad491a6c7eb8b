/**
 * Backend-independent answers to requests we cannot serve (RFC 3261 §8.2.1–§8.2.3), so the embedded stack and
 * the drachtio backend refuse the same things the same way. Pure functions over a header getter.
 */

/** Methods the server handles (in a dialog or out of it): the Allow header of every 405 (§8.2.1). */
export const ALLOWED_METHODS: readonly string[] = [
  'INVITE',
  'ACK',
  'CANCEL',
  'BYE',
  'OPTIONS',
  'INFO',
  'UPDATE',
  'REFER',
  'NOTIFY',
];
export const ALLOW_HEADER = ALLOWED_METHODS.join(', ');

/** Option tags we implement (RFC 3261 §19.2); a Require naming any other gets 420 (§8.2.2.3). */
export const SUPPORTED_OPTION_TAGS: readonly string[] = ['timer'];

export interface PolicyAnswer {
  readonly status: number;
  readonly reason: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Request-URI schemes we can be reached by (§8.2.2.1: anything else gets 416). */
const SCHEMES = /^(sips?|tel):/i;

function tokens(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
}

/** Does an Accept header admit application/sdp (`*\/*`, `application/*` or the type itself)? */
function acceptsSdp(accept: string): boolean {
  return tokens(accept).some((range) => {
    const [type, ...params] = range.split(';').map((p) => p.trim());
    // q=0 means "not acceptable" (RFC 3261 §20.1 uses RFC 2616 §14.1 semantics).
    if (params.some((p) => /^q\s*=\s*0(\.0{0,3})?$/.test(p))) return false;
    return type === 'application/sdp' || type === 'application/*' || type === '*/*';
  });
}

/**
 * The final response for an out-of-dialog request we refuse before any application logic runs, or undefined.
 * `header` returns the first value of a header (case-insensitive) or undefined. Checked in the order of
 * §8.2: method (405), Request-URI scheme (416), Require (420), then content negotiation (406, INVITE only).
 * ACK and CANCEL are never refused here: §8.2.2.3 forbids 420 for them, and they have no response to give.
 */
export function refuseRequest(
  method: string,
  requestUri: string,
  header: (name: string) => string | undefined,
  /** The option tags the backend implements (the embedded stack adds 100rel). */
  supported: readonly string[] = SUPPORTED_OPTION_TAGS,
): PolicyAnswer | undefined {
  if (method === 'ACK' || method === 'CANCEL') return undefined;
  if (!ALLOWED_METHODS.includes(method)) {
    return { status: 405, reason: 'Method Not Allowed', headers: { Allow: ALLOW_HEADER } };
  }
  if (!SCHEMES.test(requestUri.trim())) {
    return { status: 416, reason: 'Unsupported URI Scheme' };
  }
  const unsupported = tokens(header('Require')).filter((t) => !supported.includes(t));
  if (unsupported.length > 0) {
    return { status: 420, reason: 'Bad Extension', headers: { Unsupported: unsupported.join(', ') } };
  }
  const accept = header('Accept');
  if (method === 'INVITE' && accept !== undefined && accept.trim() !== '' && !acceptsSdp(accept)) {
    return { status: 406, reason: 'Not Acceptable', headers: { Accept: 'application/sdp' } };
  }
  return undefined;
}
