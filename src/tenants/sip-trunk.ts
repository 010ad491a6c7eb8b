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
 * `srtp` is the outbound SRTP policy.
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
    /** Caller identity of calls through the trunk (trunk-identity.ts): From user, domain and display name. */
    from_user: z
      .string()
      .regex(/^[A-Za-z0-9\-_.!~*'()+]{1,64}$/, 'a SIP user part')
      .optional(),
    from_domain: z
      .string()
      .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})$/, 'a host name or IP address')
      .optional(),
    /** Printable ASCII without `"` or `\`: written into a quoted display name. */
    from_name: z
      .string()
      .regex(/^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/, 'printable ASCII without " or \\')
      .optional(),
    /** RFC 3325 P-Asserted-Identity: a number (`+14155550100`) or a sip:/sips:/tel: URI. */
    pai: z
      .string()
      .regex(
        /^(\+?[0-9]{2,15}|tel:\+?[0-9]{2,15}|sips?:[A-Za-z0-9\-_.!~*'()+]{1,64}@(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}))$/,
        'a number or a sip:/sips:/tel: URI without parameters',
      )
      .optional(),
    /**
     * SRTP for the tenant's outbound calls (RFC 3711, SDES RFC 4568): `off` (default) offers plain RTP,
     * `optional` offers RTP/AVP with a=crypto (SRTP when the callee answers with a key), `required` offers
     * RTP/SAVP and hangs up on an answer without a usable key.
     */
    srtp: z.enum(['off', 'optional', 'required']).optional(),
  })
  .strict();

export type SipTrunkFields = z.output<typeof sipTrunkSchema>;

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
    { name: 'from_user', required: false, secret: false },
    { name: 'from_domain', required: false, secret: false },
    { name: 'from_name', required: false, secret: false },
    { name: 'pai', required: false, secret: false },
    { name: 'srtp', required: false, secret: false },
  ],
} as const;
