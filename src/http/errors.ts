import type { FastifyReply, FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { SwitchboardError } from '../errors.js';

/** An error the API answers with `{ error: { code, message, issues? } }` and its HTTP status. */
export class HttpError extends SwitchboardError {
  readonly statusCode: number;
  readonly issues: readonly z.core.$ZodIssue[] | undefined;
  /** Sent as Retry-After (seconds) with 429 and 503 answers. */
  readonly retryAfterS: number | undefined;

  constructor(
    statusCode: number,
    code: `HTTP_${string}`,
    message: string,
    issues?: readonly z.core.$ZodIssue[],
    options?: { cause?: unknown; retryAfterS?: number },
  ) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.statusCode = statusCode;
    this.issues = issues;
    this.retryAfterS = options?.retryAfterS;
  }
}

export const notFound = (what = 'resource'): HttpError =>
  new HttpError(404, 'HTTP_NOT_FOUND', `${what} not found`);

/** 410: the call's owner instance died (no heartbeat); nothing can reach the call any more. */
export const callLost = (id: string, instance: string): HttpError =>
  new HttpError(
    410,
    'HTTP_CALL_LOST',
    `call ${id} was owned by instance ${instance}, which stopped sending heartbeats: the call is lost`,
  );

/** Parse a body/params/query with zod; a failure is a 400 carrying the zod issues. */
export function parseOr400<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const first = r.error.issues[0];
    const where =
      first === undefined || first.path.length === 0 ? '' : ` at ${first.path.map(String).join('.')}`;
    throw new HttpError(
      400,
      'HTTP_BAD_REQUEST',
      `invalid ${what}${where}: ${first?.message ?? 'invalid'}`,
      r.error.issues,
    );
  }
  return r.data;
}

function send(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  issues?: unknown,
): FastifyReply {
  return reply.code(status).send({ error: { code, message, ...(issues === undefined ? {} : { issues }) } });
}

/** Every error becomes JSON `{error:{code,message}}`; internal errors never leak their message. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof HttpError) {
      if (err.retryAfterS !== undefined) void reply.header('retry-after', String(err.retryAfterS));
      return send(reply, err.statusCode, err.code, err.message, err.issues);
    }
    if (err instanceof SwitchboardError) {
      const status = err.code === 'TENANT_STORE_UNAVAILABLE' ? 503 : err.code.startsWith('SIP_') ? 502 : 422;
      return send(reply, status, err.code, err.message);
    }
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return send(
        reply,
        e.statusCode,
        e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'HTTP_UNSUPPORTED_MEDIA_TYPE' : 'HTTP_BAD_REQUEST',
        e.message ?? 'bad request',
      );
    }
    req.log.error({ err }, 'unhandled API error');
    return send(reply, 500, 'HTTP_INTERNAL', 'internal error');
  });
  app.setNotFoundHandler((_req, reply) => send(reply, 404, 'HTTP_NOT_FOUND', 'route not found'));
}
