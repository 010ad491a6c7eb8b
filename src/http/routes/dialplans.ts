import type { FastifyInstance } from 'fastify';
import type { Authenticator } from '../auth.js';

/** One loaded dialplan as the API shows it (no secrets live in dialplans; credentials are elsewhere). */
export interface DialplanView {
  readonly file: string;
  readonly tenant: string;
  readonly numbers: readonly string[];
  readonly provider: string;
}

/** What GET /v1/dialplans reads (routing/dialplan-store.ts behind it). */
export interface DialplanListing {
  loaded(): DialplanView[];
  /** Files refused at load (bad YAML, schema, conflicts): the previous version of each, if any, stays active. */
  rejected(): { file: string; message: string }[];
}

/**
 * `GET /v1/dialplans`: which dialplans are active and which files failed to load (issue 19). The admin
 * sees every file and every load error; a tenant key sees only its own active dialplan (a refused file may
 * name any tenant, or none, so errors are the operator's).
 */
export function registerDialplanRoutes(
  app: FastifyInstance,
  deps: { auth: Authenticator; dialplans: DialplanListing },
): void {
  app.get('/v1/dialplans', async (req) => {
    const principal = await deps.auth.authenticate(req);
    const loaded = deps.dialplans.loaded();
    if (principal.kind === 'admin') return { dialplans: loaded, errors: deps.dialplans.rejected() };
    return { dialplans: loaded.filter((d) => d.tenant === principal.tenant) };
  });
}
