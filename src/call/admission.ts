/**
 * INVITE admission (issue 11): decided after routing and before an RTP port is allocated, so a flood costs
 * neither ports nor provider minutes. In order:
 *  1. scanners (User-Agent)                               → 404, like an unknown extension
 *     draining (issue 12: the instance is shutting down)  → 503 + Retry-After, try another instance
 *  2. per-source INVITE rate (token bucket)              → 503 + Retry-After (RFC 3261 §21.5.4, §20.33)
 *  3. unrouted INVITEs                                    → 404, the same answer for every unknown extension
 *     (a source outside `allow_from` is not told that the number exists: no 403)
 *  4. global concurrent calls, `SIP_MAX_CALLS`            → 503 + Retry-After
 *  5. the tenant's `limits.max_concurrent_calls`          → 486 Busy Here + Retry-After (§21.4.24)
 * Then, in inbound.ts, a dialplan with `auth` asks for digest credentials (inbound-auth.ts: 401/403) before any
 * port or agent: every guess at a password has already spent a rate-limit token here.
 * Calls count from admission on: an INVITE still waiting for its ACK (Timer H, §17.2.1) holds a place like an
 * established call, so never-ACKed INVITEs cannot take more than the caps allow.
 */
import type { LoadedDialplan } from '../routing/dialplan-store.js';
import type { RouteResult } from '../routing/router.js';
import type { IncomingCall } from '../sip/signaling.js';
import { TokenBucketLimiter } from '../token-bucket.js';
import { isScanner } from './scanners.js';

/** What admission reads of an INVITE. */
export type AdmissionCandidate = Pick<IncomingCall, 'source' | 'header'>;

export type RefusalReason = 'rate' | 'unrouted' | 'scanner' | 'max-calls' | 'tenant-calls' | 'draining';

export interface Refusal {
  readonly status: number;
  readonly reason: string;
  readonly cause: RefusalReason;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface CallAdmissionOptions {
  /** INVITEs per second one source address may send, and how many it may send at once. */
  readonly inviteRatePerS: number;
  readonly inviteBurst: number;
  /** Concurrent calls (pending INVITEs included) in this process. */
  readonly maxCalls: number;
  /** The tenant's `limits.max_concurrent_calls`, if its dialplan sets one. */
  readonly tenantLimit: (tenant: string) => number | undefined;
  /** Established calls (the call manager's table). */
  readonly liveCalls: () => Iterable<{ readonly tenant: string }>;
  /** Told about every refusal (metrics). */
  readonly onRefused?: (refusal: Refusal) => void;
  /** Milliseconds, monotonic; injected for tests. */
  readonly clock?: () => number;
  /** Seconds a refused caller is asked to wait when a cap is reached (default 5). */
  readonly retryAfterS?: number;
  /** True while the instance drains (issue 12): every new call is refused with 503. */
  readonly draining?: () => boolean;
}

const NOT_FOUND = { status: 404, reason: 'Not Found' } as const;

export class CallAdmission {
  private readonly rate: TokenBucketLimiter;
  /** Admitted INVITEs not yet settled (answered and established, or refused): call → tenant. */
  private readonly pending = new Map<AdmissionCandidate, string>();
  private readonly retryAfter: string;

  constructor(private readonly options: CallAdmissionOptions) {
    this.rate = new TokenBucketLimiter({
      ratePerS: options.inviteRatePerS,
      burst: options.inviteBurst,
      ...(options.clock === undefined ? {} : { now: options.clock }),
    });
    this.retryAfter = String(options.retryAfterS ?? 5);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * undefined: the call may proceed and now counts toward the caps until `settled(call)`; otherwise the answer
   * to send. Must be called once per initial INVITE (retransmissions never reach it: the transaction absorbs them).
   */
  admit(call: AdmissionCandidate, routed: RouteResult): Refusal | undefined {
    const refusal = this.check(call, routed);
    if (refusal !== undefined) {
      this.options.onRefused?.(refusal);
      return refusal;
    }
    if (routed.ok) this.pending.set(call, routed.tenant);
    return undefined;
  }

  /** The INVITE's handling is over: the call is either in the live table or gone. */
  settled(call: AdmissionCandidate): void {
    this.pending.delete(call);
  }

  private check(call: AdmissionCandidate, routed: RouteResult): Refusal | undefined {
    // A scanner gets the unknown-extension answer before anything else, so even the rate limit's 503 does
    // not set some extensions apart from others in its results.
    if (isScanner(call.header('User-Agent'))) return { ...NOT_FOUND, cause: 'scanner' };
    if (this.options.draining?.() === true) {
      return {
        status: 503,
        reason: 'Service Unavailable',
        cause: 'draining',
        headers: { 'Retry-After': this.retryAfter },
      };
    }
    const taken = this.rate.take(call.source.address);
    if (!taken.ok) {
      return {
        status: 503,
        reason: 'Service Unavailable',
        cause: 'rate',
        headers: { 'Retry-After': String(taken.retryAfterS) },
      };
    }
    if (!routed.ok) return { ...NOT_FOUND, cause: 'unrouted' };
    const limit = this.options.tenantLimit(routed.tenant);
    let total = this.pending.size;
    let tenantCalls = 0;
    for (const tenant of this.pending.values()) if (tenant === routed.tenant) tenantCalls++;
    for (const live of this.options.liveCalls()) {
      total++;
      if (live.tenant === routed.tenant) tenantCalls++;
    }
    if (total >= this.options.maxCalls) {
      return {
        status: 503,
        reason: 'Service Unavailable',
        cause: 'max-calls',
        headers: { 'Retry-After': this.retryAfter },
      };
    }
    if (limit !== undefined && tenantCalls >= limit) {
      return {
        status: 486,
        reason: 'Busy Here',
        cause: 'tenant-calls',
        headers: { 'Retry-After': this.retryAfter },
      };
    }
    return undefined;
  }
}

/** The tenant's inbound call cap: the smallest `limits.max_concurrent_calls` among its dialplans, if any. */
export function tenantCallLimit(plans: readonly LoadedDialplan[], tenant: string): number | undefined {
  let limit: number | undefined;
  for (const plan of plans) {
    const own = plan.dialplan.tenant === tenant ? plan.dialplan.limits?.max_concurrent_calls : undefined;
    if (own !== undefined && (limit === undefined || own < limit)) limit = own;
  }
  return limit;
}
