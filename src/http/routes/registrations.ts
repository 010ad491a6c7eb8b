/**
 * Outbound registrations (issue 13): `PUT|GET|DELETE /v1/tenants/:tenant/registrations/:name` and the list.
 * A tenant key manages its own; the password is write-only (masked in every answer, never logged).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { tenantNameSchema } from '../../routing/dialplan.js';
import {
  registrationInputSchema,
  registrationNameSchema,
  type RegistrationInput,
} from '../../tenants/registration.js';
import { assertTenantAccess, type Authenticator } from '../auth.js';
import { HttpError, notFound, parseOr400 } from '../errors.js';

/** What the routes need from the registration manager (main.ts passes the real one). */
export interface RegistrationControl {
  /** Why this input cannot be registered here (answered 422), or undefined. */
  refusal(input: RegistrationInput): string | undefined;
  put(tenant: string, name: string, input: RegistrationInput): Promise<boolean>;
  get(tenant: string, name: string): object | undefined;
  list(tenant: string): object[];
  delete(tenant: string, name: string): Promise<boolean>;
}

const tenantParams = z.object({ tenant: tenantNameSchema });
const registrationParams = z.object({ tenant: tenantNameSchema, name: registrationNameSchema });

export function registerRegistrationRoutes(
  app: FastifyInstance,
  deps: { readonly auth: Authenticator; readonly registrations: RegistrationControl },
): void {
  const { auth, registrations } = deps;

  app.get('/v1/tenants/:tenant/registrations', async (req) => {
    const principal = await auth.authenticate(req);
    const { tenant } = parseOr400(tenantParams, req.params, 'path');
    assertTenantAccess(principal, tenant);
    return { registrations: registrations.list(tenant) };
  });

  app.put('/v1/tenants/:tenant/registrations/:name', async (req, reply) => {
    const principal = await auth.authenticate(req);
    const { tenant, name } = parseOr400(registrationParams, req.params, 'path');
    assertTenantAccess(principal, tenant);
    const input = parseOr400(registrationInputSchema, req.body ?? {}, 'registration');
    const refused = registrations.refusal(input);
    if (refused !== undefined) throw new HttpError(422, 'HTTP_UNPROCESSABLE', refused);
    const created = await registrations.put(tenant, name, input);
    return reply.code(created ? 201 : 200).send(registrations.get(tenant, name));
  });

  app.get('/v1/tenants/:tenant/registrations/:name', async (req) => {
    const principal = await auth.authenticate(req);
    const { tenant, name } = parseOr400(registrationParams, req.params, 'path');
    assertTenantAccess(principal, tenant);
    const found = registrations.get(tenant, name);
    if (found === undefined) throw notFound('registration');
    return found;
  });

  app.delete('/v1/tenants/:tenant/registrations/:name', async (req, reply) => {
    const principal = await auth.authenticate(req);
    const { tenant, name } = parseOr400(registrationParams, req.params, 'path');
    assertTenantAccess(principal, tenant);
    if (!(await registrations.delete(tenant, name))) throw notFound('registration');
    return reply.code(204).send();
  });
}
