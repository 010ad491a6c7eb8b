/**
 * What the call webhooks' `data` holds (issue 16). `call.ended` of an answered call is its call record —
 * the CDR and the transcript, as the call history stores them (cdr.ts) — sent once the history write
 * settled. A call that never got a session (CANCEL before the answer, no ACK) has no CDR: its `call.ended`
 * is the summary built here from what the call layer knew.
 */
import type { CallRecord } from './cdr.js';

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

/** An accepted INVITE that never became a session (structurally call/'s NotEstablishedFacts). */
export interface NotEstablishedInput extends CallIdentityInput {
  readonly startedAt: Date;
  readonly endedAt: Date;
  readonly endReason: string;
}

/** The fields every call event's `data` starts with (except an answered call's `call.ended`: its CDR). */
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

/** `call.ended` of a call without a CDR: never answered, so no duration, tools, barge-ins or transfer. */
export function notEstablishedData(c: NotEstablishedInput): Record<string, unknown> {
  return {
    ...identityData(c),
    started_at: c.startedAt.toISOString(),
    answered_at: null,
    ended_at: c.endedAt.toISOString(),
    duration_ms: 0,
    end_reason: c.endReason,
    tools: [],
    barge_ins: 0,
    transfer: null,
  };
}

/** `call.ended` of an answered call: the record exactly as the history has it. */
export function callRecordData(record: CallRecord): {
  cdr: CallRecord['cdr'];
  transcript: CallRecord['transcript'];
} {
  return { cdr: record.cdr, transcript: record.transcript };
}
