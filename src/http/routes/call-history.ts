/**
 * The call history over HTTP (issue 16): `GET /v1/calls?state=ended` pages through ended calls (newest
 * first, opaque cursor), `GET /v1/calls/:id` falls back to the history once a call has ended, and
 * `GET /v1/calls/:id/transcript` gives its transcript. A tenant key sees only its own calls; the admin token
 * sees every tenant's or filters with `tenant=`.
 */
import { z } from 'zod';
import { decodeCursor, MAX_PAGE, type CallHistory, type HistoryPage } from '../../outcomes/index.js';
import { tenantNameSchema } from '../../routing/dialplan.js';
import { assertTenantAccess, type Principal } from '../auth.js';
import { HttpError, notFound, parseOr400 } from '../errors.js';

const instant = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s));

export const callListQuery = z
  .object({
    state: z.enum(['live', 'ended']).default('live'),
    since: instant.optional(),
    until: instant.optional(),
    cursor: z
      .string()
      .min(1)
      .max(512)
      .refine((c) => decodeCursor(c) !== undefined, 'not a cursor from a previous page')
      .optional(),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
    tenant: tenantNameSchema.optional(),
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.since !== undefined && q.until !== undefined && q.since >= q.until)
      ctx.addIssue({ code: 'custom', path: ['until'], message: 'must be after since' });
  });

export type CallListQuery = z.output<typeof callListQuery>;

export function parseCallListQuery(query: unknown): CallListQuery {
  return parseOr400(callListQuery, query, 'query');
}

export async function historyPage(
  history: CallHistory | undefined,
  principal: Principal,
  q: CallListQuery,
): Promise<HistoryPage> {
  if (history === undefined) throw new HttpError(404, 'HTTP_NOT_FOUND', 'call history not available');
  if (q.tenant !== undefined) assertTenantAccess(principal, q.tenant);
  const tenant = principal.kind === 'tenant' ? principal.tenant : q.tenant;
  return history.list({
    limit: q.limit,
    ...(tenant === undefined ? {} : { tenant }),
    ...(q.since === undefined ? {} : { sinceMs: q.since }),
    ...(q.until === undefined ? {} : { untilMs: q.until }),
    ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
  });
}

/** An ended call this principal may see, from the history; 404 otherwise (another tenant's id included). */
export async function endedCall(
  history: CallHistory | undefined,
  principal: Principal,
  id: string,
): Promise<NonNullable<Awaited<ReturnType<CallHistory['get']>>>> {
  const record = await history?.get(id);
  if (record === undefined) throw notFound('call');
  assertTenantAccess(principal, record.cdr.tenant, 'call');
  return record;
}
