import type { OutboundPolicy } from './dialplan.js';

/** Why a tenant may not place another call right now. */
export type OutboundRefusal = 'rate' | 'concurrency';

interface Bucket {
  tokens: number;
  refilledAtMs: number;
}

/**
 * Per-tenant limits on calls placed through the API (issue 11: every call minute costs the tenant money): a
 * token bucket of `calls_per_minute` (burst = one minute's worth) and at most `max_concurrent_calls` dialling
 * or up at once. One bucket per tenant that ever dialled (tenants come from dialplans, so the map is bounded
 * by the operator's configuration).
 */
export class OutboundLimiter {
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /**
   * Takes a token for one more call when `active` (calls of the tenant dialling or up) is below the limit,
   * else says which limit refuses it; nothing is consumed on refusal.
   */
  take(
    tenant: string,
    policy: Pick<OutboundPolicy, 'calls_per_minute' | 'max_concurrent_calls'>,
    active: number,
  ): OutboundRefusal | undefined {
    const now = this.#now();
    let b = this.#buckets.get(tenant);
    if (b === undefined) {
      b = { tokens: policy.calls_per_minute, refilledAtMs: now };
      this.#buckets.set(tenant, b);
    }
    const perMs = policy.calls_per_minute / 60_000;
    b.tokens = Math.min(policy.calls_per_minute, b.tokens + Math.max(0, now - b.refilledAtMs) * perMs);
    b.refilledAtMs = now;
    if (active >= policy.max_concurrent_calls) return 'concurrency';
    if (b.tokens < 1) return 'rate';
    b.tokens -= 1;
    return undefined;
  }
}
