/**
 * Event webhooks (issue 16): what a tenant configures at `PUT /v1/tenants/:tenant/webhooks/:name`, the
 * events it may subscribe to, and one delivery as the outbox keeps it.
 */
import { z } from 'zod';

export const WEBHOOK_EVENTS = [
  'call.started',
  'call.answered',
  'call.transferred',
  'call.ended',
  'tool.called',
  'recording.ready',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** A webhook name in a path: like a registration name. */
export const webhookNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,40}$/, 'a webhook name');

export const webhookInputSchema = z
  .object({
    url: z.string().max(2048).url(),
    /** The HMAC key: at least 16 characters so a receiver's check means something. */
    secret: z.string().min(16).max(256),
    events: z
      .array(z.enum(WEBHOOK_EVENTS))
      .min(1)
      .max(WEBHOOK_EVENTS.length)
      .refine((list) => new Set(list).size === list.length, 'events must not repeat'),
  })
  .strict();

export type WebhookInput = z.output<typeof webhookInputSchema>;

/** A stored subscription, opened (the secret in clear: only the deliverer and the sealing store see it). */
export interface WebhookSubscription extends WebhookInput {
  readonly tenant: string;
  readonly name: string;
  readonly updatedAt: string;
}

/** The stored subscription's fields, or undefined when the record is not of this shape. */
export function subscriptionFrom(
  tenant: string,
  name: string,
  record: { readonly fields: Readonly<Record<string, unknown>>; readonly updatedAt: string } | undefined,
): WebhookSubscription | undefined {
  if (record === undefined) return undefined;
  const parsed = webhookInputSchema.safeParse(record.fields);
  return parsed.success ? { ...parsed.data, tenant, name, updatedAt: record.updatedAt } : undefined;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One event for one subscription, as the outbox stores it (the secret is not in it: it is re-read). */
export interface DeliveryRecord {
  /** `<event id>:<webhook name>`: unique, so an event appended twice is delivered once. */
  readonly key: string;
  /** The event id (the body's `id`): receivers deduplicate by it. */
  readonly id: string;
  readonly tenant: string;
  readonly webhook: string;
  readonly type: WebhookEventType;
  /** The raw JSON body, signed as is on every attempt. */
  readonly body: string;
  readonly createdAt: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: string;
  readonly lastAttemptAt?: string;
  readonly lastStatusCode?: number;
  readonly lastError?: string;
  readonly deliveredAt?: string;
}
