/**
 * `sip-inbound`: a provider-independent credential, the username and password a tenant's trunk or PBX must
 * answer our digest challenge with (dialplan `auth`, issue 11). Like `sip-trunk` it is written by the
 * operator only and read back by tenant keys fully masked; the password is sealed at rest, masked for the
 * admin too, and never logged.
 */
import { z } from 'zod';
import type { CredentialRecord } from './store.js';

export const SIP_INBOUND_CREDENTIAL = 'sip-inbound';

/** A digest username/password: printable, no `"` or `\` (they travel as quoted-strings, RFC 3261 §25.1). */
const digestText = (max: number): z.ZodString =>
  z
    .string()
    .regex(new RegExp(`^[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]{1,${max}}$`), 'printable ASCII without " or \\');

export const sipInboundSchema = z
  .object({
    username: digestText(64),
    /** At least 12 characters: it is all that stands between the internet and the tenant's agent minutes. */
    password: digestText(128).min(12, 'at least 12 characters'),
  })
  .strict();

export type SipInboundCredential = z.output<typeof sipInboundSchema>;

/** The catalog entry (GET /v1/providers): which fields exist and which are secret. */
export const SIP_INBOUND_INFO = {
  slug: SIP_INBOUND_CREDENTIAL,
  aliases: [],
  displayName: 'SIP digest credentials for inbound calls',
  credentialFields: [
    { name: 'username', required: true, secret: false },
    { name: 'password', required: true, secret: true },
  ],
} as const;

/** The stored credential's fields, or undefined when absent or not of this shape. */
export function sipInboundFrom(record: CredentialRecord | undefined): SipInboundCredential | undefined {
  if (record === undefined) return undefined;
  const parsed = sipInboundSchema.safeParse(record.fields);
  return parsed.success ? parsed.data : undefined;
}
