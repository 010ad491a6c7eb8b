/**
 * The call layer's event sink (call/call-events.ts, matched structurally: outcomes/ does not import call/)
 * as event webhooks: each call event becomes one `publish`, which only queues. An answered call's
 * `call.ended` is not the call layer's: it is sent with the call record (`callRecordWebhook`).
 */
import {
  callRecordData,
  identityData,
  notEstablishedData,
  type CallIdentityInput,
  type NotEstablishedInput,
} from './call-ended-data.js';
import type { CallRecord } from './cdr.js';
import type { WebhookPublisher } from './webhook-publisher.js';

type Identity = CallIdentityInput;

export function callWebhookSink(publisher: Pick<WebhookPublisher, 'publish'>): {
  started(c: Identity & { readonly startedAt: Date }): void;
  answered(c: Identity & { readonly answeredAt: Date }): void;
  transferred(c: Identity & { readonly target: string; readonly via: string }): void;
  toolCalled(
    c: Identity & {
      readonly outcome: {
        readonly callId: string;
        readonly name: string;
        readonly ok: boolean;
        readonly args: Readonly<Record<string, unknown>>;
      };
    },
  ): void;
  notEstablished(facts: NotEstablishedInput): void;
} {
  return {
    started: (c) =>
      publisher.publish(c.tenant, 'call.started', {
        ...identityData(c),
        started_at: c.startedAt.toISOString(),
      }),
    answered: (c) =>
      publisher.publish(c.tenant, 'call.answered', {
        ...identityData(c),
        answered_at: c.answeredAt.toISOString(),
      }),
    transferred: (c) =>
      publisher.publish(c.tenant, 'call.transferred', { ...identityData(c), target: c.target, via: c.via }),
    toolCalled: (c) =>
      publisher.publish(c.tenant, 'tool.called', {
        ...identityData(c),
        tool: c.outcome.name,
        tool_call_id: c.outcome.callId,
        ok: c.outcome.ok,
        args: c.outcome.args,
      }),
    notEstablished: (facts) => publisher.publish(facts.tenant, 'call.ended', notEstablishedData(facts)),
  };
}

/**
 * An answered call's `call.ended`: `data` is its record `{ cdr, transcript }`, published once the history
 * write settled (CallOutcomes' onRecord). Only queues, like every publish.
 */
export function callRecordWebhook(
  publisher: Pick<WebhookPublisher, 'publish'>,
): (record: CallRecord) => void {
  return (record) => publisher.publish(record.cdr.tenant, 'call.ended', callRecordData(record));
}
