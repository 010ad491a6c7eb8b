import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import type { TenantStore } from '../tenants/store.js';
import type { CallHistory, TranscriptTurn } from '../outcomes/index.js';
import type { Authenticator } from './auth.js';
import { installErrorHandling } from './errors.js';
import type { CallControl, ProviderCatalog } from './ports.js';
import type { ProviderUrlPolicy } from './provider-url-policy.js';
import { registerAdminRoutes, type DrainControl } from './routes/admin.js';
import { registerCallRoutes } from './routes/calls.js';
import { registerDialplanRoutes, type DialplanListing } from './routes/dialplans.js';
import { registerRegistrationRoutes, type RegistrationControl } from './routes/registrations.js';
import { registerTenantRoutes } from './routes/tenants.js';
import { registerWebhookRoutes, type WebhookControl } from './routes/webhooks.js';

export interface ApiDeps {
  readonly auth: Authenticator;
  readonly store: TenantStore;
  readonly catalog: ProviderCatalog;
  readonly calls: CallControl;
  /** Ended calls (issue 16): GET /v1/calls?state=ended, /v1/calls/:id after the end, its transcript. */
  readonly history?: CallHistory;
  /** A call in progress on this instance: its transcript so far. */
  readonly liveTranscript?: (callId: string) => readonly TranscriptTurn[] | undefined;
  /** Tenants named by dialplans (a tenant exists once it has a dialplan or a stored credential). */
  readonly knownTenants: () => string[];
  /** Where tenant keys may point provider endpoints; default: the official endpoints only. */
  readonly providerUrls?: ProviderUrlPolicy;
  /** The graceful drain behind /v1/admin/drain (issue 12); without it the route is absent. */
  readonly drain?: DrainControl;
  /** Loaded dialplans and load errors behind GET /v1/dialplans; without it the route is absent. */
  readonly dialplans?: DialplanListing;
  /** Outbound registrations (issue 13); without it the routes are absent. */
  readonly registrations?: RegistrationControl;
  /** Event webhooks (issue 16); without it the routes are absent. */
  readonly webhooks?: WebhookControl;
}

export interface HttpServerOptions {
  metrics: Registry;
  logger?: Logger;
  /** Readiness probes: each returns true when its component can serve. */
  readiness?: Readonly<Record<string, () => boolean | Promise<boolean>>>;
  /** The authenticated control API; without it only health and metrics are served. */
  api?: ApiDeps;
}

/** The control plane's HTTP server: health, metrics and (with `api`) the tenant and call API. */
export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const base = { bodyLimit: 256 * 1024 } as const;
  const app: FastifyInstance =
    options.logger === undefined
      ? Fastify({ ...base, logger: false })
      : Fastify({
          ...base,
          // Request lines are not logged (they carry caller numbers in paths); errors still are.
          // pino's Logger and FastifyBaseLogger differ only under exactOptionalPropertyTypes.
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
          loggerInstance: options.logger.child({ component: 'http' }, { level: 'warn' }) as FastifyBaseLogger,
        });
  installErrorHandling(app);

  app.get('/healthz', () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const checks: Record<string, boolean> = {};
    for (const [name, probe] of Object.entries(options.readiness ?? {})) {
      try {
        checks[name] = await probe();
      } catch {
        checks[name] = false;
      }
    }
    const ready = Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });

  const api = options.api;
  app.get('/metrics', async (req, reply) => {
    // Platform-wide counters and host/pid: the admin token or METRICS_TOKEN only (issue 11).
    if (api !== undefined) await api.auth.authenticateMetrics(req);
    const body = await options.metrics.metrics();
    return reply.type(options.metrics.contentType).send(body);
  });

  if (api !== undefined) {
    registerTenantRoutes(app, api);
    registerCallRoutes(app, api);
    if (api.drain !== undefined) registerAdminRoutes(app, { auth: api.auth, drain: api.drain });
    if (api.dialplans !== undefined)
      registerDialplanRoutes(app, { auth: api.auth, dialplans: api.dialplans });
    if (api.registrations !== undefined)
      registerRegistrationRoutes(app, { auth: api.auth, registrations: api.registrations });
    if (api.webhooks !== undefined) registerWebhookRoutes(app, { auth: api.auth, webhooks: api.webhooks });
  }
  return app;
}
