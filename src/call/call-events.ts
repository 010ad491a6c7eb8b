/**
 * What a call tells the outside about itself while it happens (issue 16: event webhooks, later the CDR):
 * the sink is implemented in outcomes/ and wired in main.ts; this file subscribes to a session's events so
 * session.ts stays as it is. Every sink method must return at once (it only enqueues): a call never waits
 * for what its events cause.
 */
import type { BargeInDecision } from './barge-in.js';
import type { EndReason } from './session-types.js';
import type { CallSession } from './session.js';
import type { ToolOutcome } from './tools/dispatcher.js';

/** Who the call is, as every event names it. */
export interface CallIdentity {
  readonly id: string;
  readonly tenant: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  readonly provider: string;
  readonly model?: string;
}

/** Everything known when a call is over: what `call.ended` summarises. */
export interface CallEndFacts extends CallIdentity {
  /** The INVITE was accepted (inbound) or the dial placed (outbound). */
  readonly startedAt: Date;
  /** Absent when the call never got to a session (cancelled or not established). */
  readonly answeredAt?: Date;
  readonly endedAt: Date;
  readonly endReason: EndReason | 'cancelled' | 'not-established';
  readonly tools: readonly ToolOutcome[];
  readonly bargeIns: number;
  /** Where the call was transferred, when it was. */
  readonly transfer?: { readonly target: string; readonly via: 'refer' | 'bridge' };
}

export interface CallEventSink {
  started(call: CallIdentity & { readonly startedAt: Date }): void;
  answered(call: CallIdentity & { readonly answeredAt: Date }): void;
  transferred(call: CallIdentity & { readonly target: string; readonly via: 'refer' | 'bridge' }): void;
  toolCalled(call: CallIdentity & { readonly outcome: ToolOutcome }): void;
  ended(facts: CallEndFacts): void;
}

/**
 * Follows one answered call's session for the sink: every tool outcome, barge-ins, and the ending. Returns
 * the hook the call manager calls when the call leaves by transfer (the session does not know the target's
 * fate as the manager does).
 */
export function observeSession(
  sink: CallEventSink,
  call: CallIdentity,
  session: Pick<CallSession, 'on' | 'once' | 'startedAt'>,
  startedAt: Date,
  now: () => number = Date.now,
): { transferred(target: string, via: 'refer' | 'bridge'): void } {
  const tools: ToolOutcome[] = [];
  let bargeIns = 0;
  let transfer: CallEndFacts['transfer'];
  sink.answered({ ...call, answeredAt: session.startedAt });
  session.on('tool.outcome', (outcome) => {
    tools.push(outcome);
    sink.toolCalled({ ...call, outcome });
  });
  session.on('barge-in', (decision: BargeInDecision) => {
    if (decision.action === 'interrupted') bargeIns++;
  });
  session.once('ended', ({ reason }) => {
    const endedAt = new Date(now());
    // The tool that ended the call (end_call) reports its outcome just after 'ended', in the same turn of
    // promises: the summary waits for it (one macrotask) so call.ended lists it and follows tool.called.
    setImmediate(() =>
      sink.ended({
        ...call,
        startedAt,
        answeredAt: session.startedAt,
        endedAt,
        endReason: reason,
        tools,
        bargeIns,
        ...(transfer === undefined ? {} : { transfer }),
      }),
    );
  });
  return {
    transferred(target, via) {
      transfer = { target, via };
      sink.transferred({ ...call, target, via });
    },
  };
}

/** The identity of a call from what the call manager holds. */
export function callIdentity(p: {
  readonly id: string;
  readonly tenant: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  readonly profile: { readonly provider: string; readonly model?: string | undefined };
}): CallIdentity {
  return {
    id: p.id,
    tenant: p.tenant,
    direction: p.direction,
    from: p.from,
    to: p.to,
    provider: p.profile.provider,
    ...(p.profile.model === undefined ? {} : { model: p.profile.model }),
  };
}

/** An accepted INVITE that never became a session (CANCEL, no ACK, unusable answer): it ends here. */
export function notEstablished(
  sink: CallEventSink,
  call: CallIdentity,
  startedAt: Date,
  reason: 'cancelled' | 'not-established',
): void {
  sink.ended({ ...call, startedAt, endedAt: new Date(), endReason: reason, tools: [], bargeIns: 0 });
}
