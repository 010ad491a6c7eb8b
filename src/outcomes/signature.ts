import { createHmac } from 'node:crypto';

/** The signature header every event webhook delivery carries (README "Webhooks"). */
export const SIGNATURE_HEADER = 'switchboard-signature';

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`: the timestamp is signed with the body
 * so a receiver can refuse replays older than its tolerance (Stripe's scheme, which receivers know).
 */
export function signatureHeader(secret: string, rawBody: string, unixSeconds: number): string {
  const t = Math.floor(unixSeconds);
  const v1 = createHmac('sha256', secret).update(`${t}.${rawBody}`, 'utf8').digest('hex');
  return `t=${t},v1=${v1}`;
}
