import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import type { Logger } from '../observability/logger.js';
import { writeSecretFile } from '../tenants/master-key.js';
import type { TenantStore } from '../tenants/store.js';
import { HttpError } from './errors.js';

/** Who is calling: the admin, or one tenant's API key. */
export type Principal =
  { readonly kind: 'admin' } | { readonly kind: 'tenant'; readonly tenant: string; readonly keyId: string };

export const ADMIN_TOKEN_FILE = 'admin.token';
const TENANT_KEY_PREFIX = 'sbk_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new tenant API key: the token is shown once; only its hash is stored. */
export function newApiKey(): { id: string; token: string; hash: string } {
  const id = randomBytes(6).toString('hex');
  const token = `${TENANT_KEY_PREFIX}${id}_${randomBytes(24).toString('base64url')}`;
  return { id, token, hash: hashToken(token) };
}

/**
 * ADMIN_TOKEN, or on the embedded default a token generated into DATA_DIR (0600). The file's path is logged,
 * never its value.
 */
export async function resolveAdminToken(
  options: { adminToken: string | undefined; dataDir: string },
  logger: Logger,
): Promise<string> {
  if (options.adminToken !== undefined) return options.adminToken;
  const path = join(options.dataDir, ADMIN_TOKEN_FILE);
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing.length >= 16) {
      logger.info({ path }, 'admin token read from file');
      return existing;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(24).toString('base64url');
  await writeSecretFile(options.dataDir, ADMIN_TOKEN_FILE, `${token}\n`);
  logger.warn({ path }, 'ADMIN_TOKEN not set: generated an admin token file');
  return token;
}

/** Bearer-token authentication: constant-time for the admin token, hash lookup for tenant keys. */
export class Authenticator {
  readonly #adminDigest: Buffer;
  readonly #store: TenantStore;

  constructor(adminToken: string, store: TenantStore) {
    this.#adminDigest = createHash('sha256').update(adminToken, 'utf8').digest();
    this.#store = store;
  }

  async authenticate(req: FastifyRequest): Promise<Principal> {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const token = match?.[1];
    if (token === undefined) throw new HttpError(401, 'HTTP_UNAUTHORIZED', 'missing bearer token');
    // Compare digests so timingSafeEqual sees equal lengths and the comparison time says nothing about the token.
    const digest = createHash('sha256').update(token, 'utf8').digest();
    if (timingSafeEqual(digest, this.#adminDigest)) return { kind: 'admin' };
    if (token.startsWith(TENANT_KEY_PREFIX)) {
      const key = await this.#store.findApiKey(digest.toString('hex'));
      if (key !== undefined) return { kind: 'tenant', tenant: key.tenant, keyId: key.id };
    }
    throw new HttpError(401, 'HTTP_UNAUTHORIZED', 'invalid token');
  }
}

/** Tenant isolation: another tenant's resources answer 404, not 403, so their existence is not revealed. */
export function assertTenantAccess(principal: Principal, tenant: string, what = 'tenant'): void {
  if (principal.kind === 'tenant' && principal.tenant !== tenant)
    throw new HttpError(404, 'HTTP_NOT_FOUND', `${what} not found`);
}

export function assertAdmin(principal: Principal): void {
  if (principal.kind !== 'admin') throw new HttpError(403, 'HTTP_FORBIDDEN', 'admin token required');
}
