/**
 * The `call.ended` webhook's `data`: a summary of the call. One function on purpose: the full CDR
 * (outcomes/cdr*.ts, issue 16) replaces it when it lands, and nothing else builds this payload.
 */

/**
 * Who a call is, as the call layer reports it (call/call-events.ts CallIdentity, matched structurally:
 * outcomes/ sits beside call/ and does not import it).
 */
export interface CallIdentityInput {
  readonly id: string;
  readonly tenant: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  readonly provider: string;
  readonly model?: string;
}

/** What a call left behind (structurally call/'s CallEndFacts). */
export interface CallEndedInput extends CallIdentityInput {
  readonly startedAt: Date;
  readonly answeredAt?: Date;
  readonly endedAt: Date;
  readonly endReason: string;
  readonly tools: ReadonlyArray<{ readonly name: string; readonly ok: boolean }>;
  readonly bargeIns: number;
  readonly transfer?: { readonly target: string; readonly via: string };
}

/** The fields every call event's `data` starts with. */
export function identityData(c: CallIdentityInput): Record<string, unknown> {
  return {
    call_id: c.id,
    tenant: c.tenant,
    direction: c.direction,
    from: c.from,
    to: c.to,
    provider: c.provider,
    model: c.model ?? null,
  };
}

export function callEndedData(c: CallEndedInput): Record<string, unknown> {
  return {
    ...identityData(c),
    started_at: c.startedAt.toISOString(),
    answered_at: c.answeredAt?.toISOString() ?? null,
    ended_at: c.endedAt.toISOString(),
    /** From the answer (the billable part); 0 for a call that was never answered. */
    duration_ms: c.answeredAt === undefined ? 0 : Math.max(0, c.endedAt.getTime() - c.answeredAt.getTime()),
    end_reason: c.endReason,
    tools: c.tools.map((t) => ({ name: t.name, ok: t.ok })),
    barge_ins: c.bargeIns,
    transfer: c.transfer === undefined ? null : { target: c.transfer.target, via: c.transfer.via },
  };
}
