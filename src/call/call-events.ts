/**
 * What a call tells the outside about itself while it happens (issue 16: event webhooks):
 * the sink is implemented in outcomes/ and wired in main.ts; this file subscribes to a session's events so
 * session.ts stays as it is. Every sink method must return at once (it only enqueues): a call never waits
 * for what its events cause.
 */
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

/**
 * An accepted INVITE that never became a session. An answered call's ending is not reported here: the
 * outcomes room sends its `call.ended` with the CDR and the transcript once the call history has them.
 */
export interface NotEstablishedFacts extends CallIdentity {
  /** The INVITE was accepted. */
  readonly startedAt: Date;
  readonly endedAt: Date;
  readonly endReason: 'cancelled' | 'not-established';
}

export interface CallEventSink {
  started(call: CallIdentity & { readonly startedAt: Date }): void;
  answered(call: CallIdentity & { readonly answeredAt: Date }): void;
  transferred(call: CallIdentity & { readonly target: string; readonly via: 'refer' | 'bridge' }): void;
  toolCalled(call: CallIdentity & { readonly outcome: ToolOutcome }): void;
  notEstablished(facts: NotEstablishedFacts): void;
}

/**
 * Follows one answered call's session for the sink: the answer and every tool outcome. Returns the hook the
 * call manager calls when the call leaves by transfer (the session does not know the target's fate as the
 * manager does).
 */
export function observeSession(
  sink: CallEventSink,
  call: CallIdentity,
  session: Pick<CallSession, 'on' | 'startedAt'>,
): { transferred(target: string, via: 'refer' | 'bridge'): void } {
  sink.answered({ ...call, answeredAt: session.startedAt });
  session.on('tool.outcome', (outcome) => sink.toolCalled({ ...call, outcome }));
  return {
    transferred(target, via) {
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
  sink.notEstablished({ ...call, startedAt, endedAt: new Date(), endReason: reason });
}
