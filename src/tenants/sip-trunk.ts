/**
 * `sip-trunk`: a provider-independent credential, the tenant's trunk for outbound calls (`POST /v1/calls`
 * with a number). Written by the operator only; the password is sealed at rest and masked on read.
 *
 * `tls_verify: false` is the explicit opt-out for a lab PBX with a self-signed certificate: over TLS
 * (`sips:` or `;transport=tls`) its certificate is then accepted without verification. Default true: it
 * must chain to the system roots or SIP_TLS_CA and name the trunk's host.
 *
 * `prack` (RFC 3262 on outbound INVITEs): `supported` (default) offers 100rel, `required` puts it in Require
 * (for carriers that insist on reliable provisionals), `off` leaves it out.
 */
import { z } from 'zod';

export const SIP_TRUNK_CREDENTIAL = 'sip-trunk';

export const sipTrunkSchema = z
  .object({
    uri: z.string().regex(/^sips?:/, 'a sip: URI'),
    username: z.string().optional(),
    password: z.string().optional(),
    tls_verify: z.boolean().optional(),
    prack: z.enum(['required', 'supported', 'off']).optional(),
  })
  .strict();

/** The catalog entry (GET /v1/providers): which fields exist and which are secret. */
export const SIP_TRUNK_INFO = {
  slug: SIP_TRUNK_CREDENTIAL,
  aliases: [],
  displayName: 'SIP trunk for outbound calls',
  credentialFields: [
    { name: 'uri', required: true, secret: false },
    { name: 'username', required: false, secret: false },
    { name: 'password', required: false, secret: true },
    { name: 'tls_verify', required: false, secret: false },
    { name: 'prack', required: false, secret: false },
  ],
} as const;
