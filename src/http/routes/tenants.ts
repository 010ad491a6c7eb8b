import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SIP_INBOUND_CREDENTIAL } from '../../tenants/sip-inbound.js';
import type { TenantStore } from '../../tenants/store.js';
import { tenantNameSchema } from '../../routing/dialplan.js';
import { assertAdmin, assertTenantAccess, newApiKey, type Authenticator, type Principal } from '../auth.js';
import { HttpError, notFound, parseOr400 } from '../errors.js';
import { ProviderUrlPolicy } from '../provider-url-policy.js';
import type { ProviderCatalog } from '../ports.js';

const providerSlug = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,40}$/, 'a provider slug');
const tenantParams = z.object({ tenant: tenantNameSchema });
const credentialParams = z.object({ tenant: tenantNameSchema, provider: providerSlug });
const keyParams = z.object({ tenant: tenantNameSchema, id: z.string().regex(/^[0-9a-f]{12}$/) });

/** Mask a secret to its last four characters, e.g. `****1234`. */
export function maskSecret(value: unknown): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s.length <= 4 ? '****' : `****${s.slice(-4)}`;
}

/**
 * The operator's outbound trunk and the inbound digest credentials: admin-written only, tenants read them
 * masked (issue 11: toll fraud; a tenant key must not open its own numbers to the internet).
 */
const ADMIN_ONLY_CREDENTIALS: ReadonlySet<string> = new Set(['sip-trunk', SIP_INBOUND_CREDENTIAL]);

function assertMayWrite(principal: Principal, provider: string): void {
  if (principal.kind === 'tenant' && ADMIN_ONLY_CREDENTIALS.has(provider))
    throw new HttpError(403, 'HTTP_FORBIDDEN', `the ${provider} credential is managed by the operator`);
}

export function registerTenantRoutes(
  app: FastifyInstance,
  deps: {
    auth: Authenticator;
    store: TenantStore;
    catalog: ProviderCatalog;
    knownTenants: () => string[];
    providerUrls?: ProviderUrlPolicy | undefined;
  },
): void {
  const { auth, store, catalog } = deps;
  const providerUrls = deps.providerUrls ?? new ProviderUrlPolicy({ allow: [] });

  app.get('/v1/providers', async (req) => {
    await auth.authenticate(req);
    return { providers: catalog.providers() };
  });

  app.get('/v1/tenants', async (req) => {
    const principal = await auth.authenticate(req);
    const all = new Set([...(await store.listTenants()), ...deps.knownTenants()]);
    const visible = principal.kind === 'admin' ? [...all] : [...all].filter((t) => t === principal.tenant);
    return { tenants: visible.sort() };
  });

  app.get('/v1/tenants/:tenant/credentials', async (req) => {
    const principal = await auth.authenticate(req);
    const { tenant } = parseOr400(tenantParams, req.params, 'path');
    assertTenantAccess(principal, tenant);
    return { credentials: await store.listCredentials(tenant) };
  });

  app.put('/v1/tenants/:tenant/credentials/:provider', async (req, reply) => {
    const principal = await auth.authenticate(req);
    const { tenant, provider } = parseOr400(credentialParams, req.params, 'path');
    assertTenantAccess(principal, tenant);
    assertMayWrite(principal, provider);
    const fields = catalog.validateCredential(provider, req.body ?? {});
    // Admin writes may point anywhere (operators run proxies and mocks); tenant writes are checked.
    if (principal.kind === 'tenant') await providerUrls.check(fields);
    await store.putCredential(tenant, provider, fields);
    req.log.info({ tenant, provider }, 'credential stored');
    return reply.code(204).send();
  });

  app.get('/v1/tenants/:tenant/credentials/:provider', async (req) => {
    const principal = await auth.authenticate(req);
    const { tenant, provider } = parseOr400(credentialParams, req.params, 'path');
    assertTenantAccess(principal, tenant);
    const record = await store.getCredential(tenant, provider);
    if (record === undefined) throw notFound('credential');
    const info = catalog.providers().find((p) => p.slug === provider || p.aliases.includes(provider));
    const secret = new Set(info?.credentialFields.filter((f) => f.secret).map((f) => f.name) ?? []);
    // An operator-managed credential is shown to its tenant fully masked (the trunk's host and user too).
    const maskAll =
      info === undefined || (principal.kind === 'tenant' && ADMIN_ONLY_CREDENTIALS.has(provider));
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record.fields)) {
      // Unknown provider metadata: mask everything rather than risk showing a secret.
      fields[k] = maskAll || secret.has(k) ? maskSecret(v) : v;
    }
    return { tenant, provider, fields, updatedAt: record.updatedAt };
  });

  app.delete('/v1/tenants/:tenant/credentials/:provider', async (req, reply) => {
    const principal = await auth.authenticate(req);
    const { tenant, provider } = parseOr400(credentialParams, req.params, 'path');
    assertTenantAccess(principal, tenant);
    assertMayWrite(principal, provider);
    if (!(await store.deleteCredential(tenant, provider))) throw notFound('credential');
    return reply.code(204).send();
  });

  app.post('/v1/tenants/:tenant/keys', async (req, reply) => {
    const principal = await auth.authenticate(req);
    assertAdmin(principal);
    const { tenant } = parseOr400(tenantParams, req.params, 'path');
    const key = newApiKey();
    await store.putApiKey(tenant, key.id, key.hash);
    // The token is returned once and never stored or logged in clear.
    return reply.code(201).send({ id: key.id, tenant, token: key.token });
  });

  app.delete('/v1/tenants/:tenant/keys/:id', async (req, reply) => {
    const principal = await auth.authenticate(req);
    assertAdmin(principal);
    const { tenant, id } = parseOr400(keyParams, req.params, 'path');
    if (!(await store.deleteApiKey(tenant, id))) throw notFound('key');
    // Every instance forgets the key now (pub/sub), not when its cache entry expires.
    await auth.revoked(tenant, id);
    return reply.code(204).send();
  });
}
