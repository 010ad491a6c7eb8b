import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { dialFromSchema, dialToSchema, isSipUriText, OutboundError } from '../../call/outbound-target.js';
import { amdSettingsSchema, tenantNameSchema } from '../../routing/dialplan.js';
import { assertTenantAccess, type Authenticator, type Principal } from '../auth.js';
import { callLost, HttpError, notFound, parseOr400 } from '../errors.js';
import { CALL_STATE_LOST, type CallControl, type CallSummary } from '../ports.js';
import type { CallHistory, TranscriptTurn } from '../../outcomes/index.js';
import { endedCall, historyPage, parseCallListQuery } from './call-history.js';

const idParams = z.object({ id: z.string().min(1).max(128) });
const transferBody = z.object({ destination: z.string().min(1).max(64) }).strict();
const dialBody = z
  .object({
    tenant: tenantNameSchema,
    // Issue 11: grammar-checked, so CR/LF or header smuggling is a 400 before anything is sent.
    to: dialToSchema,
    from: dialFromSchema.optional(),
    agent: z
      .object({
        instructions: z.string().max(20_000).optional(),
        greeting: z.string().max(2_000).optional(),
        voice: z.string().max(64).optional(),
        model: z.string().max(128).optional(),
      })
      .strict()
      .optional(),
    /** The greeting waits for the callee's first words or this much silence (overrides the profile). */
    outbound: z
      .object({ greet_after_ms: z.number().int().min(0).max(30_000) })
      .strict()
      .optional(),
    amd: amdSettingsSchema.optional(),
  })
  .strict();

async function visibleCall(calls: CallControl, principal: Principal, id: string): Promise<CallSummary> {
  const call = await calls.get(id);
  if (call === undefined) throw notFound('call');
  assertTenantAccess(principal, call.tenant, 'call');
  // Its owner instance died: say so at once (after the tenant check, so no other tenant learns the id).
  if (call.state === CALL_STATE_LOST) throw callLost(id, call.instance ?? 'unknown');
  return call;
}

export function registerCallRoutes(
  app: FastifyInstance,
  deps: {
    auth: Authenticator;
    calls: CallControl;
    history?: CallHistory;
    liveTranscript?: (callId: string) => readonly TranscriptTurn[] | undefined;
  },
): void {
  const { auth, calls } = deps;

  app.get('/v1/calls', async (req) => {
    const principal = await auth.authenticate(req);
    const q = parseCallListQuery(req.query);
    if (q.state === 'ended') return historyPage(deps.history, principal, q);
    if (q.tenant !== undefined) assertTenantAccess(principal, q.tenant);
    const all = await calls.list();
    const tenant = principal.kind === 'tenant' ? principal.tenant : q.tenant;
    return { calls: tenant === undefined ? all : all.filter((c) => c.tenant === tenant) };
  });

  app.get('/v1/calls/:id', async (req) => {
    const principal = await auth.authenticate(req);
    const { id } = parseOr400(idParams, req.params, 'path');
    const live = await calls.get(id);
    // Issue 16: once it has ended, the call is its record in the history.
    if (live === undefined) return { ...(await endedCall(deps.history, principal, id)).cdr, state: 'ended' };
    return visibleCall(calls, principal, id);
  });

  app.get('/v1/calls/:id/transcript', async (req) => {
    const principal = await auth.authenticate(req);
    const { id } = parseOr400(idParams, req.params, 'path');
    const live = await calls.get(id);
    if (live !== undefined) {
      assertTenantAccess(principal, live.tenant, 'call');
      const turns = deps.liveTranscript?.(id);
      // A live call owned by another instance: its transcript is there until the call ends.
      if (turns === undefined)
        throw new HttpError(409, 'HTTP_CALL_IN_PROGRESS', 'the transcript is stored when the call ends');
      return { id, state: 'live', turns };
    }
    const record = await endedCall(deps.history, principal, id);
    return { id, state: 'ended', turns: record.transcript };
  });

  app.delete('/v1/calls/:id', async (req, reply) => {
    const principal = await auth.authenticate(req);
    const { id } = parseOr400(idParams, req.params, 'path');
    await visibleCall(calls, principal, id);
    if (!(await calls.hangup(id))) throw notFound('call');
    return reply.code(204).send();
  });

  app.post('/v1/calls/:id/transfer', async (req) => {
    const principal = await auth.authenticate(req);
    const { id } = parseOr400(idParams, req.params, 'path');
    const { destination } = parseOr400(transferBody, req.body, 'body');
    await visibleCall(calls, principal, id);
    const result = await calls.transfer(id, destination);
    if (!result.ok) throw new HttpError(409, 'HTTP_TRANSFER_FAILED', result.message);
    return result;
  });

  app.post('/v1/calls', async (req, reply) => {
    const principal = await auth.authenticate(req);
    const body = parseOr400(dialBody, req.body, 'body');
    assertTenantAccess(principal, body.tenant);
    const trusted = principal.kind === 'admin';
    // A full SIP URI reaches any host:port; tenants dial numbers through the operator's trunk only.
    if (!trusted && (isSipUriText(body.to) || (body.from !== undefined && isSipUriText(body.from))))
      throw new HttpError(403, 'HTTP_FORBIDDEN', 'a SIP URI in "to" or "from" needs the admin token');
    try {
      const { id } = await calls.dial({ ...body, trusted });
      return reply.code(201).send({ id });
    } catch (err) {
      if (!(err instanceof OutboundError)) throw err;
      if (err.status === 429) void reply.header('retry-after', '60');
      const code =
        err.status === 429 ? 'HTTP_RATE_LIMITED' : err.status === 403 ? 'HTTP_FORBIDDEN' : 'HTTP_BAD_REQUEST';
      throw new HttpError(err.status, code, err.message, undefined, { cause: err });
    }
  });
}
