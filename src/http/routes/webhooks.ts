/**
 * Event webhooks (issue 16): `PUT|GET|DELETE /v1/tenants/:tenant/webhooks/:name`, the list, and the
 * recent deliveries. A tenant key manages its own; the secret is write-only (masked in every answer,
 * never logged).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { webhookInputSchema, webhookNameSchema, type WebhookInput } from '../../outcomes/webhook-types.js';
import { tenantNameSchema } from '../../routing/dialplan.js';
import { assertTenantAccess, type Authenticator } from '../auth.js';
import { HttpError, notFound, parseOr400 } from '../errors.js';

/** What the routes need from the webhook service (main.ts passes the real one). */
export interface WebhookControl {
  /** Why deliveries to this URL are not allowed here (answered 422), or undefined. */
  refusal(url: string): Promise<string | undefined>;
  /** True when the webhook is new. */
  put(tenant: string, name: string, input: WebhookInput): Promise<boolean>;
  /** The webhook with its secret masked. */
  get(tenant: string, name: string): Promise<object | undefined>;
  list(tenant: string): Promise<object[]>;
  delete(tenant: string, name: string): Promise<boolean>;
  deliveries(tenant: string, name: string, limit: number): Promise<object[]>;
}

const tenantParams = z.object({ tenant: tenantNameSchema });
const webhookParams = z.object({ tenant: tenantNameSchema, name: webhookNameSchema });
const deliveriesQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(50) }).strict();

export function registerWebhookRoutes(
  app: FastifyInstance,
  deps: { readonly auth: Authenticator; readonly webhooks: WebhookControl },
): void {
  const { auth, webhooks } = deps;

  app.get('/v1/tenants/:tenant/webhooks', async (req) => {
    const principal = await auth.authenticate(req);
    const { tenant } = parseOr400(tenantParams, req.params, 'path');
    assertTenantAccess(principal, tenant);
    return { webhooks: await webhooks.list(tenant) };
  });

  app.put('/v1/tenants/:tenant/webhooks/:name', async (req, reply) => {
    const principal = await auth.authenticate(req);
    const { tenant, name } = parseOr400(webhookParams, req.params, 'path');
    assertTenantAccess(principal, tenant);
    const input = parseOr400(webhookInputSchema, req.body ?? {}, 'webhook');
    const refused = await webhooks.refusal(input.url);
    if (refused !== undefined) throw new HttpError(422, 'HTTP_WEBHOOK_URL_FORBIDDEN', refused);
    const created = await webhooks.put(tenant, name, input);
    req.log.info({ tenant, webhook: name }, 'webhook stored');
    return reply.code(created ? 201 : 200).send(await webhooks.get(tenant, name));
  });

  app.get('/v1/tenants/:tenant/webhooks/:name', async (req) => {
    const principal = await auth.authenticate(req);
    const { tenant, name } = parseOr400(webhookParams, req.params, 'path');
    assertTenantAccess(principal, tenant);
    const found = await webhooks.get(tenant, name);
    if (found === undefined) throw notFound('webhook');
    return found;
  });

  app.delete('/v1/tenants/:tenant/webhooks/:name', async (req, reply) => {
    const principal = await auth.authenticate(req);
    const { tenant, name } = parseOr400(webhookParams, req.params, 'path');
    assertTenantAccess(principal, tenant);
    if (!(await webhooks.delete(tenant, name))) throw notFound('webhook');
    return reply.code(204).send();
  });

  app.get('/v1/tenants/:tenant/webhooks/:name/deliveries', async (req) => {
    const principal = await auth.authenticate(req);
    const { tenant, name } = parseOr400(webhookParams, req.params, 'path');
    assertTenantAccess(principal, tenant);
    const { limit } = parseOr400(deliveriesQuery, req.query ?? {}, 'query');
    if ((await webhooks.get(tenant, name)) === undefined) throw notFound('webhook');
    return { deliveries: await webhooks.deliveries(tenant, name, limit) };
  });
}
