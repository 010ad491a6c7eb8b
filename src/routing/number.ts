/**
 * One canonical key per called number, so that routing and the dialplan conflict check agree on what "the
 * same number" is: `+15551230000`, `15551230000`, `+1 (555) 123-0000` and `%2B15551230000` are one number.
 */

/** RFC 3966 §5.1.1 visual separators; they carry no meaning in a dialled number. */
const VISUAL_SEPARATORS = /[\s().-]/g;
/** A global or national number once separators are gone: optional "+", then digits only. */
const DIGITS = /^\+?[0-9]+$/;

/** Percent-decoding of a SIP user part (RFC 3261 §19.1.2 escaped); undefined when the escape is broken. */
function unescapeUser(user: string): string | undefined {
  if (!user.includes('%')) return user;
  try {
    return decodeURIComponent(user);
  } catch {
    return undefined;
  }
}

/**
 * The key of a called user part or a dialplan `numbers` entry: `e164:<digits>` for telephone numbers (with
 * or without "+", separators dropped), else `user:<name>` (RFC 3261 §19.1.4: user parts compare
 * case-sensitively). `*` is not a number: callers handle the wildcard before asking.
 */
export function numberKey(user: string): string {
  const plain = unescapeUser(user) ?? user;
  const compact = plain.replace(VISUAL_SEPARATORS, '');
  if (compact.length > 0 && DIGITS.test(compact)) return `e164:${compact.replace(/^\+/, '')}`;
  return `user:${plain}`;
}

/** The digits of a telephone number (no "+", no separators), or undefined when it is not one. */
export function numberDigits(user: string): string | undefined {
  const key = numberKey(user);
  return key.startsWith('e164:') ? key.slice(5) : undefined;
}
