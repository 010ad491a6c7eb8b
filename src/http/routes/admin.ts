import type { FastifyInstance } from 'fastify';
import { assertAdmin, type Authenticator } from '../auth.js';

/** What the drain routes show (cluster/drain.ts implements it). */
export interface DrainView {
  readonly state: 'serving' | 'draining' | 'stopped';
  readonly trigger?: string;
  readonly startedAt?: string;
  readonly deadlineAt?: string;
  readonly callsRemaining: number;
  readonly outcome?: string;
}

/** The instance's graceful drain, as the operator's API sees it. */
export interface DrainControl {
  status(): DrainView;
  /** Starts the drain (idempotent) and returns its state. */
  start(trigger: string): DrainView;
}

/**
 * Operator routes, admin token only: `POST /v1/admin/drain` starts this instance's graceful drain (issue 12:
 * new calls refused, calls in progress finish, then the process exits) and answers 202 with its state;
 * `GET /v1/admin/drain` shows the progress (calls remaining, deadline).
 */
export function registerAdminRoutes(
  app: FastifyInstance,
  deps: { auth: Authenticator; drain: DrainControl },
): void {
  const { auth, drain } = deps;

  app.get('/v1/admin/drain', async (req) => {
    assertAdmin(await auth.authenticate(req));
    return drain.status();
  });

  app.post('/v1/admin/drain', async (req, reply) => {
    assertAdmin(await auth.authenticate(req));
    return reply.code(202).send(drain.start('api'));
  });
}
