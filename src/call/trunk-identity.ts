/**
 * The caller identity an outbound call through the tenant's `sip-trunk` presents: the trunk's `from_user`,
 * `from_domain` and `from_name` make the From (unless `POST /v1/calls` named a `from`), its `pai` becomes a
 * P-Asserted-Identity (RFC 3325 §9.1; the trunk is the trust domain that accepts it). The fields were checked
 * against strict grammars when stored (tenants/sip-trunk.ts); they are checked again here, so a stored value
 * that predates the schema can never put a CR/LF or a `<`/`>` into a header.
 */
import { isIPv6 } from 'node:net';
import { SipError } from '../sip/signaling.js';
import type { SipUriParts } from './outbound-target.js';

const USER = /^[A-Za-z0-9\-_.!~*'()+]{1,64}$/;
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})$/;
const DISPLAY = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/;
const NUMBER = /^\+?[0-9]{2,15}$/;
const PAI_URI =
  /^(tel:\+?[0-9]{2,15}|sips?:[A-Za-z0-9\-_.!~*'()+]{1,64}@(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}))$/;

export interface TrunkIdentity {
  /** The From value (name-addr) for DialOptions.from; undefined: keep the default or the API's `from`. */
  readonly from: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
}

function field(fields: Readonly<Record<string, unknown>>, name: string, rule: RegExp): string | undefined {
  const v = fields[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !rule.test(v)) {
    throw new SipError(502, `the sip-trunk credential has an invalid "${name}"`);
  }
  return v;
}

const hostOf = (host: string): string => (isIPv6(host) ? `[${host}]` : host);

/**
 * `apiFromUri`: the From URI built from the request's `from` (takes precedence over `from_user`).
 * `trunk`: the parsed trunk URI, whose host is the default From domain.
 */
export function trunkIdentity(
  fields: Readonly<Record<string, unknown>>,
  trunk: SipUriParts,
  apiFromUri: string | undefined,
): TrunkIdentity {
  const user = field(fields, 'from_user', USER);
  const domain = field(fields, 'from_domain', HOST) ?? hostOf(trunk.host);
  const name = field(fields, 'from_name', DISPLAY);
  const pai = field(fields, 'pai', new RegExp(`${NUMBER.source}|${PAI_URI.source}`));
  const uri = apiFromUri ?? (user === undefined ? undefined : `sip:${user}@${domain}`);
  const from = name === undefined ? uri : `"${name}" <${uri ?? `sip:${user ?? 'switchboard'}@${domain}`}>`;
  const headers: Record<string, string> = {};
  if (pai !== undefined) {
    headers['P-Asserted-Identity'] = NUMBER.test(pai) ? `<sip:${pai}@${domain};user=phone>` : `<${pai}>`;
  }
  return { from, headers };
}
