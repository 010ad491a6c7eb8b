/**
 * The first look at every request the embedded UA receives, in or out of a dialog, before anything else
 * runs (RFC 3261 §8.2.1–§8.2.2): an undefined method is 501, a `sips:` Request-URI that did not arrive over
 * TLS is 416 (RFC 5630 §3.1.3), an unsupported Require is 420. Pure: the caller sends the answer.
 */
import { SUPPORTED_OPTION_TAGS, refuseRequest, type PolicyAnswer } from '../request-policy.js';
import type { SipTransport } from '../signaling.js';
import { ALLOW } from './endpoint.js';
import type { SipRequest } from './message.js';
import { OPTION_100REL } from './reliable-provisional.js';

/** Methods of standards-track RFCs: known but not served gets 405 (§8.2.1), anything else 501 (§21.5.2). */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  ...ALLOW.split(', '),
  'REGISTER',
  'SUBSCRIBE',
  'REFER',
  'MESSAGE',
  'PUBLISH',
]);

/** Option tags this stack implements: the shared policy's plus RFC 3262 reliable provisionals. */
export const EMBEDDED_OPTION_TAGS: readonly string[] = [...SUPPORTED_OPTION_TAGS, OPTION_100REL];

/** §11.2: what an OPTIONS 200 tells the asker. */
export const OPTIONS_HEADERS = {
  Allow: ALLOW,
  Accept: 'application/sdp',
  Supported: EMBEDDED_OPTION_TAGS.join(', '),
};

/** The answer for a request refused at the door, or undefined to serve it. */
export function screenRequest(request: SipRequest, transport: SipTransport): PolicyAnswer | undefined {
  // §8.2.1: a method nobody defined is 501 (RFC 4475 §3.1.1.2); known ones we refuse get 405 later.
  if (!KNOWN_METHODS.has(request.method))
    return { status: 501, reason: 'Not Implemented', headers: { Allow: ALLOW } };
  // RFC 5630 §3.1.3 / RFC 3261 §26.2.2: a sips: Request-URI promises TLS on every hop; one that reached us
  // over UDP or TCP broke that promise, and we must not serve it as if it had been kept.
  if (/^sips:/i.test(request.uri) && transport !== 'tls')
    return { status: 416, reason: 'Unsupported URI Scheme - sips: requires TLS' };
  // §8.2.2.3: an option tag in Require that we lack is 420 + Unsupported, in or out of a dialog. The
  // shared policy is asked as for OPTIONS so that it checks Require (and the scheme) but not method/Accept.
  return refuseRequest(
    'OPTIONS',
    request.uri,
    (name) => {
      const values = request.headers.getAll(name);
      return values.length === 0 ? undefined : values.join(', ');
    },
    EMBEDDED_OPTION_TAGS,
  );
}
