/**
 * The outbound policy in front of every `dial` (issue 11), as a CallControl decorator wired in main.ts above
 * the cluster relay: `to`/`from` rebuilt from validated parts, full SIP URIs for the admin token only,
 * tenants only to numbers their dialplan's `outbound.allow` permits, and per-tenant rate and concurrency
 * limits counted over every instance's live calls.
 */
import { CALL_STATE_LOST, type CallControl, type CallSummary, type DialRequest } from '../http/ports.js';
import type { Logger } from '../observability/logger.js';
import type { LoadedDialplan } from '../routing/dialplan-store.js';
import { OutboundLimiter } from '../routing/outbound-limits.js';
import { checkOutbound, OutboundError } from './outbound-target.js';

export interface OutboundGuardOptions {
  readonly inner: CallControl;
  readonly dialplans: () => readonly LoadedDialplan[];
  readonly publicHost: string;
  readonly logger: Logger;
  readonly limiter?: OutboundLimiter;
}

export class OutboundGuard implements CallControl {
  readonly #o: OutboundGuardOptions;
  readonly #limiter: OutboundLimiter;
  readonly #log: Logger;
  /** Dials not yet answered or failed, per tenant (they count against max_concurrent_calls). */
  readonly #dialling = new Map<string, number>();

  constructor(options: OutboundGuardOptions) {
    this.#o = options;
    this.#limiter = options.limiter ?? new OutboundLimiter();
    this.#log = options.logger.child({ component: 'outbound' });
  }

  list(): Promise<CallSummary[]> {
    return this.#o.inner.list();
  }
  get(id: string): Promise<CallSummary | undefined> {
    return this.#o.inner.get(id);
  }
  hangup(id: string): Promise<boolean> {
    return this.#o.inner.hangup(id);
  }
  transfer(id: string, destination: string): ReturnType<CallControl['transfer']> {
    return this.#o.inner.transfer(id, destination);
  }

  async dial(request: DialRequest): Promise<{ readonly id: string }> {
    const plan = this.#o.dialplans().find((d) => d.dialplan.tenant === request.tenant);
    // No dialplan: the call manager answers that (404) exactly as before.
    if (plan === undefined) return this.#o.inner.dial(request);
    const trusted = request.trusted === true;
    const policy = plan.dialplan.outbound;
    const checked = checkOutbound({
      to: request.to,
      from: request.from,
      trusted,
      publicHost: this.#o.publicHost,
      policy,
    });
    // The call manager applies the trunk (it owns the credential) to the compact number rebuilt here.
    const to = checked.destination.kind === 'uri' ? checked.destination.uri : checked.destination.number;
    const live = (await this.#o.inner.list()).filter(
      // A lost call (its instance died) is over: it no longer holds a concurrency slot.
      (c) => c.tenant === request.tenant && c.direction === 'outbound' && c.state !== CALL_STATE_LOST,
    ).length;
    const dialling = this.#dialling.get(request.tenant) ?? 0;
    const refusal = this.#limiter.take(request.tenant, policy, live + dialling);
    if (refusal !== undefined) {
      this.#log.info({ tenant: request.tenant, refusal }, 'outbound call refused by tenant limit');
      throw new OutboundError(
        429,
        'CALL_OUTBOUND_LIMIT',
        refusal === 'rate'
          ? `more than ${policy.calls_per_minute} calls per minute`
          : `${policy.max_concurrent_calls} outbound calls already in progress`,
      );
    }
    this.#dialling.set(request.tenant, dialling + 1);
    try {
      return await this.#o.inner.dial({
        ...request,
        to,
        ...(checked.fromUri === undefined ? {} : { from: checked.fromUri }),
      });
    } finally {
      const left = (this.#dialling.get(request.tenant) ?? 1) - 1;
      if (left <= 0) this.#dialling.delete(request.tenant);
      else this.#dialling.set(request.tenant, left);
    }
  }
}
