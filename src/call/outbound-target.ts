/**
 * What `POST /v1/calls` may put on the wire (issue 11): `to` and `from` are parsed against a strict subset of
 * the RFC 3261 §25.1 SIP-URI grammar or taken as telephone numbers, then rebuilt by us, so no CR/LF, header
 * (`?`) or URI parameter (`;maddr=`) supplied by a client ever reaches the Request-URI or From.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { SwitchboardError } from '../errors.js';
import type { OutboundPolicy } from '../routing/dialplan.js';
import { numberDigits } from '../routing/number.js';
import { SipError } from '../sip/signaling.js';

/** A refused outbound call, with the HTTP status the API answers it with. */
export class OutboundError extends SwitchboardError {
  readonly status: 400 | 403 | 429;
  constructor(status: 400 | 403 | 429, code: `CALL_OUTBOUND_${string}`, message: string) {
    super(code, message);
    this.status = status;
  }
}

export interface SipUriParts {
  readonly scheme: 'sip' | 'sips';
  readonly user: string | undefined;
  readonly host: string;
  readonly port: number | undefined;
  /** Only `transport` and `user` survive; every other parameter is refused. */
  readonly params: ReadonlyMap<string, string>;
}

const MAX_LENGTH = 256;
/** §25.1 unreserved + "+": enough for numbers and user names; no escapes, no `;` `?` `/` `&` `=`. */
const USER = /^[A-Za-z0-9\-_.!~*'()+]{1,64}$/;
const HOSTNAME =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/;
/** URI parameters with a meaning we accept; `maddr` (re-targets the request) and the rest are refused. */
const PARAMS: Readonly<Record<string, RegExp>> = { transport: /^(udp|tcp|tls)$/i, user: /^(phone|ip)$/i };
/** A dialled number: optional "+", digits and RFC 3966 §5.1.1 visual separators. */
const NUMBER = /^\+?[0-9][0-9\s().-]{1,30}$/;
/** Any C0 control character or DEL: CR/LF would end a header line (RFC 3261 §7.3.1). */
const CONTROL = {
  test: (s: string): boolean => {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 0x7f) return true;
    }
    return false;
  },
};

/** Parse a `sip:`/`sips:` URI without userinfo password or headers; undefined when outside the subset. */
export function parseSipUri(text: string): SipUriParts | undefined {
  if (text.length > MAX_LENGTH || CONTROL.test(text)) return undefined;
  const m = /^(sips?):(?:([^@;?]+)@)?(\[[0-9A-Fa-f:.]+\]|[^:;?@[\]]+)(?::([0-9]{1,5}))?((?:;[^;?]*)*)$/i.exec(
    text,
  );
  if (m === null) return undefined;
  const [, scheme = '', user, host = '', portText, paramText = ''] = m;
  if (user !== undefined && !USER.test(user)) return undefined;
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  if (host.startsWith('[') ? !isIPv6(bare) : !isIPv4(host) && !HOSTNAME.test(host)) return undefined;
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (port < 1 || port > 65_535)) return undefined;
  const params = new Map<string, string>();
  for (const p of paramText.split(';').slice(1)) {
    const [name = '', value = '', ...rest] = p.split('=');
    const key = name.toLowerCase();
    const rule = Object.hasOwn(PARAMS, key) ? PARAMS[key] : undefined;
    if (rule === undefined || rest.length > 0 || !rule.test(value) || params.has(key)) return undefined;
    params.set(key, value.toLowerCase());
  }
  return { scheme: scheme.toLowerCase() as 'sip' | 'sips', user, host, port, params };
}

/** The URI text of `parts` with `user` in place of its user part. */
export function formatSipUri(parts: SipUriParts, user: string | undefined): string {
  const params = [...parts.params].map(([k, v]) => `;${k}=${v}`).join('');
  return `${parts.scheme}:${user === undefined ? '' : `${user}@`}${parts.host}${parts.port === undefined ? '' : `:${parts.port}`}${params}`;
}

/** A telephone number as it goes into a user part: separators dropped, a leading "+" kept. */
function compactNumber(text: string): string | undefined {
  if (!NUMBER.test(text)) return undefined;
  const digits = numberDigits(text);
  if (digits === undefined || digits.length < 2 || digits.length > 15) return undefined;
  return text.trimStart().startsWith('+') ? `+${digits}` : digits;
}

export const isSipUriText = (text: string): boolean => /^sips?:/i.test(text);

const noControl = (what: string) =>
  z
    .string()
    .min(1)
    .max(MAX_LENGTH)
    .refine((s) => !CONTROL.test(s), `${what} must not contain CR, LF or other control characters`);

/** `to` of POST /v1/calls: a telephone number (E.164, "+" optional) or a sip:/sips: URI (admin only). */
export const dialToSchema = noControl('to').refine(
  (s) => (isSipUriText(s) ? parseSipUri(s) !== undefined : compactNumber(s) !== undefined),
  'a telephone number (up to 15 digits, optional "+") or a sip:/sips: URI without headers or parameters other than transport and user',
);

/** `from` of POST /v1/calls: a number or a SIP user name (becomes `sip:<it>@<public host>`), or a sip: URI. */
export const dialFromSchema = noControl('from').refine(
  (s) =>
    isSipUriText(s)
      ? parseSipUri(s) !== undefined
      : compactNumber(s) !== undefined || /^[A-Za-z0-9\-_.!~*'()]{1,64}$/.test(s),
  'a telephone number, a SIP user name or a sip:/sips: URI without headers',
);

/** True when `digits` (no "+") matches one of the dialplan's `outbound.allow` patterns. */
export function outboundAllowed(allow: readonly string[], digits: string): boolean {
  return allow.some((pattern) => {
    if (pattern === '*') return true;
    const p = pattern.replace(/^\+/, '');
    return p.endsWith('*') ? digits.startsWith(p.slice(0, -1)) : digits === p;
  });
}

export interface OutboundRequest {
  readonly to: string;
  readonly from?: string | undefined;
  /** The admin token asked: full SIP URIs allowed, `outbound.allow` not applied. */
  readonly trusted: boolean;
  readonly publicHost: string;
  readonly policy: Pick<OutboundPolicy, 'allow'>;
}

/** A checked destination: a full URI (admin only) or a number for the tenant's trunk. */
export type OutboundDestination =
  { readonly kind: 'uri'; readonly uri: string } | { readonly kind: 'number'; readonly number: string };

const USER_NAME = /^[A-Za-z0-9\-_.!~*'()]{1,64}$/;

/** The From URI for `from`: numbers and user names become `sip:<it>@<public host>` (RFC 3261 §8.1.1.3). */
function fromUriOf(from: string, trusted: boolean, publicHost: string): string {
  if (isSipUriText(from)) {
    const parsed = parseSipUri(from);
    if (parsed === undefined) throw new OutboundError(400, 'CALL_OUTBOUND_INVALID', 'invalid "from" URI');
    if (!trusted)
      throw new OutboundError(403, 'CALL_OUTBOUND_FORBIDDEN', 'a "from" SIP URI needs the admin token');
    return formatSipUri(parsed, parsed.user);
  }
  const user = compactNumber(from) ?? (USER_NAME.test(from) ? from : undefined);
  if (user === undefined) throw new OutboundError(400, 'CALL_OUTBOUND_INVALID', 'invalid "from"');
  return `sip:${user}@${isIPv6(publicHost) ? `[${publicHost}]` : publicHost}`;
}

/** Checks `to`/`from` against the grammar and the tenant's policy; throws OutboundError (400/403). */
export function checkOutbound(r: OutboundRequest): {
  destination: OutboundDestination;
  fromUri: string | undefined;
} {
  const fromUri = r.from === undefined ? undefined : fromUriOf(r.from, r.trusted, r.publicHost);
  if (isSipUriText(r.to)) {
    const parsed = parseSipUri(r.to);
    if (parsed === undefined) throw new OutboundError(400, 'CALL_OUTBOUND_INVALID', 'invalid "to" URI');
    // A full URI reaches any host:port: the operator's decision, never a tenant's (SSRF, toll fraud).
    if (!r.trusted)
      throw new OutboundError(403, 'CALL_OUTBOUND_FORBIDDEN', 'a "to" SIP URI needs the admin token');
    return { destination: { kind: 'uri', uri: formatSipUri(parsed, parsed.user) }, fromUri };
  }
  const number = compactNumber(r.to);
  if (number === undefined) throw new OutboundError(400, 'CALL_OUTBOUND_INVALID', 'invalid "to" number');
  if (!r.trusted && !outboundAllowed(r.policy.allow, number.replace(/^\+/, ''))) {
    throw new OutboundError(
      403,
      'CALL_OUTBOUND_FORBIDDEN',
      'the dialplan does not permit calling this number',
    );
  }
  return { destination: { kind: 'number', number }, fromUri };
}

/**
 * The Request-URI for a destination: a full URI as checked, a number through the tenant's `sip-trunk`
 * (its host, port and transport; its user part replaced by the number).
 */
export function requestUriFor(destination: OutboundDestination, trunkUri: string | undefined): string {
  if (destination.kind === 'uri') return destination.uri;
  if (trunkUri === undefined) throw new SipError(400, 'no sip-trunk credential: give a full SIP URI in "to"');
  const trunk = parseSipUri(trunkUri);
  if (trunk === undefined) throw new SipError(502, 'the sip-trunk credential URI is not a usable SIP URI');
  return formatSipUri(trunk, destination.number);
}
