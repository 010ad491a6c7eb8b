/**
 * An outbound registration as a tenant configures it (issue 13): `PUT /v1/tenants/:tenant/registrations/:name`.
 * The whole record is sealed at rest like a credential (tenant-store.ts); the password is masked on every
 * read and never logged. `contact_user` and `instance_id` are ours, minted once and kept across updates so
 * the registrar replaces the binding instead of adding one (RFC 5626 §4.2).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { RegistrationRecord } from './store.js';

/** A registration name in a path: like a provider slug. */
export const registrationNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,40}$/, 'a registration name');

/** Digest text travels as a quoted-string (RFC 3261 §25.1): printable ASCII without `"` or `\`. */
const digestText = (max: number): z.ZodString =>
  z
    .string()
    .regex(new RegExp(`^[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]{1,${max}}$`), 'printable ASCII without " or \\');

/** `sip:user@host[:port]` (the AOR needs a user: it is what calls for it are routed by). */
const aorUri = z
  .string()
  .max(256)
  .regex(/^sips?:[A-Za-z0-9+\-_.!~*'()&=$,;?/%]+@[A-Za-z0-9.\-[\]:]+$/, 'a sip: URI with a user part');
/** `sip:host[:port][;params]`. */
const registrarUri = z
  .string()
  .max(256)
  .regex(/^sips?:([^@\s<>"]+@)?[A-Za-z0-9.\-[\]:]+(;[A-Za-z0-9=._-]+)*$/, 'a sip: URI');

export const registrationInputSchema = z
  .object({
    aor: aorUri,
    registrar: registrarUri,
    username: digestText(64),
    password: digestText(128),
    /** What we ask for; the registrar decides (423 raises it, the 200 may lower it). */
    expires_s: z.number().int().min(1).max(86_400).default(3600),
    transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
  })
  .strict();

export type RegistrationInput = z.output<typeof registrationInputSchema>;

const storedSchema = registrationInputSchema.extend({
  contact_user: z.string().regex(/^[a-z0-9-]{4,40}$/),
  instance_id: z.string().regex(/^urn:uuid:[0-9a-f-]{36}$/),
});

export type StoredRegistration = z.output<typeof storedSchema>;

/** The stored fields, with our contact user and instance id kept from `previous` (or minted). */
export function toStored(
  input: RegistrationInput,
  previous: StoredRegistration | undefined,
): StoredRegistration {
  return {
    ...input,
    contact_user: previous?.contact_user ?? `sb-${randomBytes(6).toString('hex')}`,
    instance_id: previous?.instance_id ?? `urn:uuid:${randomUUID()}`,
  };
}

/** The stored registration's fields, or undefined when the record is not of this shape. */
export function storedRegistrationFrom(
  record: RegistrationRecord | undefined,
): StoredRegistration | undefined {
  if (record === undefined) return undefined;
  const parsed = storedSchema.safeParse(record.fields);
  return parsed.success ? parsed.data : undefined;
}

/** The user part of an AOR (`sip:1001@pbx` → `1001`). */
export function aorUser(aor: string): string {
  return /^sips?:([^@]+)@/.exec(aor)?.[1] ?? '';
}
