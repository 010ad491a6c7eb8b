/**
 * Inbound digest authentication for dialplans with `auth` (issue 11): asked after routing (`allow_from`) and
 * admission (the per-source INVITE rate), before an RTP port or an agent is taken. A brute force stays cheap
 * for us: every guess is an INVITE the rate limit has already counted; an INVITE without an answer, or with a
 * nonce we did not issue to this call, is answered from an HMAC alone; only a well-signed, fresh nonce costs
 * one credential read and one MD5.
 *   no Authorization, not Digest, other realm, nonce not ours     → 401 with a fresh challenge
 *   our nonce, expired, right password                             → 401 stale=true (RFC 7616 §3.3)
 *   our nonce, wrong username or password (or no credential stored) → 403 Forbidden: a definite answer, so
 *     a misconfigured PBX does not loop on fresh challenges (the rate limit bounds retries either way)
 */
import type { Logger } from '../observability/logger.js';
import type { InboundAuthPolicy } from '../routing/dialplan.js';
import {
  NonceSigner,
  challengeHeader,
  parseAuthorization,
  verifyAuthorization,
  type NonceBinding,
} from '../sip/digest-auth.js';
import type { IncomingCall } from '../sip/signaling.js';
import { SIP_INBOUND_CREDENTIAL, sipInboundFrom } from '../tenants/sip-inbound.js';
import type { TenantStore } from '../tenants/store.js';

export type AuthCall = Pick<IncomingCall, 'header' | 'source' | 'callId' | 'requestUri' | 'to'>;

export type AuthRefusalCause = 'auth-challenge' | 'auth-stale' | 'auth-failed' | 'auth-unavailable';

export interface AuthRefusal {
  readonly status: 401 | 403 | 503;
  readonly reason: string;
  readonly cause: AuthRefusalCause;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface InboundAuthOptions {
  /** HMAC key of the nonces (main.ts derives it from MASTER_KEY so instances share it, else random). */
  readonly secret: Buffer;
  readonly store: Pick<TenantStore, 'getCredential'>;
  /** Milliseconds since the epoch; injected for tests. */
  readonly clock?: () => number;
}

export class InboundAuthenticator {
  private readonly nonces: NonceSigner;

  constructor(private readonly options: InboundAuthOptions) {
    this.nonces = new NonceSigner({
      secret: options.secret,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  }

  /** undefined: authenticated, the call may proceed; otherwise the answer to send. */
  async check(
    call: AuthCall,
    tenant: string,
    policy: InboundAuthPolicy,
    log: Logger,
  ): Promise<AuthRefusal | undefined> {
    const realm = policy.realm ?? tenant;
    const binding: NonceBinding = { realm, sourceAddress: call.source.address, callId: call.callId };
    const value = call.header('Authorization');
    const auth = value === undefined ? undefined : parseAuthorization(value);
    const state =
      auth === undefined || auth.realm !== realm
        ? 'invalid'
        : this.nonces.check(auth.nonce, binding, policy.nonce_ttl_s);
    if (auth === undefined || state === 'invalid') return this.challenge(binding, false);

    let credential;
    try {
      credential = sipInboundFrom(await this.options.store.getCredential(tenant, policy.credential));
    } catch (err) {
      log.error({ err, tenant }, 'sip-inbound credential unreadable; refusing the call');
      return { status: 503, reason: 'Service Unavailable', cause: 'auth-unavailable' };
    }
    if (credential === undefined) {
      log.warn({ tenant, credential: SIP_INBOUND_CREDENTIAL }, 'dialplan requires auth but no credential');
      return { status: 403, reason: 'Forbidden', cause: 'auth-failed' };
    }
    // RFC 3261 §22.4, RFC 7616 §3.4.6: the answer must be for this request. A proxy may rewrite the
    // Request-URI (host, or a number prefix), so the number called — the Request-URI's user or the To user —
    // is what must match: an answer computed for one number cannot open another.
    const ok =
      forCalledNumber(auth.uri, call) && verifyAuthorization(auth, { method: 'INVITE', ...credential });
    if (!ok) return { status: 403, reason: 'Forbidden', cause: 'auth-failed' };
    // The caller knows the password but answered an expired nonce: a fresh one, no new prompt.
    if (state === 'stale') return this.challenge(binding, true);
    return undefined;
  }

  private challenge(binding: NonceBinding, stale: boolean): AuthRefusal {
    return {
      status: 401,
      reason: 'Unauthorized',
      cause: stale ? 'auth-stale' : 'auth-challenge',
      headers: { 'WWW-Authenticate': challengeHeader(binding.realm, this.nonces.issue(binding), stale) },
    };
  }
}

/** The user part of a sip:/sips: URI, or undefined when it has none. */
function userOf(uri: string): string | undefined {
  return /^sips?:([^@;?]+)@/i.exec(uri.trim())?.[1];
}

function forCalledNumber(digestUri: string, call: AuthCall): boolean {
  const user = userOf(digestUri);
  return user !== undefined && (user === userOf(call.requestUri) || user === call.to.user);
}
