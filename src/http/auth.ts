import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import type { Logger } from '../observability/logger.js';
import { writeSecretFile } from '../tenants/master-key.js';
import type { ApiKeyRecord, TenantStore } from '../tenants/store.js';
import { HttpError } from './errors.js';
import { KeyCache } from './key-cache.js';
import type { TokenBucketLimiter } from '../token-bucket.js';

/** Who is calling: the admin, or one tenant's API key. */
export type Principal =
  { readonly kind: 'admin' } | { readonly kind: 'tenant'; readonly tenant: string; readonly keyId: string };

export const ADMIN_TOKEN_FILE = 'admin.token';
const TENANT_KEY_PREFIX = 'sbk_';
/** What newApiKey() makes: anything else is refused before it costs a store lookup or a cache entry. */
const TENANT_KEY_SHAPE = /^sbk_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/;

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

export function hashToken(token: string): string {
  return digestOf(token).toString('hex');
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

/** Tells the other instances that a tenant key was deleted (Redis pub/sub); absent with one instance. */
export interface RevocationBus {
  publish(tenant: string, id: string): Promise<void>;
}

export interface AuthenticatorOptions {
  /** A token that may read /metrics only (Prometheus). */
  readonly metricsToken?: string | undefined;
  readonly cache?: KeyCache;
  /** Per-tenant request budget; admin requests are not limited. */
  readonly limiter?: TokenBucketLimiter;
  readonly revocations?: RevocationBus;
}

/**
 * Bearer-token authentication: constant-time for the admin (and metrics) token, a hash lookup through a
 * bounded, expiring cache for tenant keys, then the tenant's rate limit.
 */
export class Authenticator {
  readonly #adminDigest: Buffer;
  readonly #metricsDigest: Buffer | undefined;
  readonly #store: TenantStore;
  readonly #cache: KeyCache;
  readonly #limiter: TokenBucketLimiter | undefined;
  readonly #revocations: RevocationBus | undefined;
  #rateLimited = 0;

  constructor(adminToken: string, store: TenantStore, options: AuthenticatorOptions = {}) {
    this.#adminDigest = digestOf(adminToken);
    this.#metricsDigest = options.metricsToken === undefined ? undefined : digestOf(options.metricsToken);
    this.#store = store;
    this.#cache = options.cache ?? new KeyCache();
    this.#limiter = options.limiter;
    this.#revocations = options.revocations;
  }

  /** For /metrics: key cache entries (bounded by its capacity) and requests refused by the rate limit. */
  stats(): { readonly cachedKeys: number; readonly rateLimited: number } {
    return { cachedKeys: this.#cache.size, rateLimited: this.#rateLimited };
  }

  async authenticate(req: FastifyRequest): Promise<Principal> {
    const digest = bearerDigest(req);
    // Compare digests so timingSafeEqual sees equal lengths and the comparison time says nothing about the token.
    if (timingSafeEqual(digest.value, this.#adminDigest)) return { kind: 'admin' };
    if (TENANT_KEY_SHAPE.test(digest.token)) {
      const key = await this.#findKey(digest.value.toString('hex'));
      if (key !== undefined) {
        const verdict = this.#limiter?.take(key.tenant) ?? { ok: true };
        if (!verdict.ok) {
          this.#rateLimited++;
          throw new HttpError(429, 'HTTP_RATE_LIMITED', 'too many requests for this tenant', undefined, {
            retryAfterS: verdict.retryAfterS,
          });
        }
        return { kind: 'tenant', tenant: key.tenant, keyId: key.id };
      }
    }
    throw new HttpError(401, 'HTTP_UNAUTHORIZED', 'invalid token');
  }

  /** /metrics: the admin token or METRICS_TOKEN; a tenant key is refused (platform-wide counters). */
  async authenticateMetrics(req: FastifyRequest): Promise<void> {
    const digest = bearerDigest(req);
    if (this.#metricsDigest !== undefined && timingSafeEqual(digest.value, this.#metricsDigest)) return;
    assertAdmin(await this.authenticate(req));
  }

  /** A key was deleted here: forget it, and tell the other instances to do the same. */
  async revoked(tenant: string, id: string): Promise<void> {
    this.#cache.forget(tenant, id);
    await this.#revocations?.publish(tenant, id);
  }

  /** Another instance deleted a key. */
  forget(tenant: string, id: string): void {
    this.#cache.forget(tenant, id);
  }

  async #findKey(hash: string): Promise<ApiKeyRecord | undefined> {
    const cached = this.#cache.get(hash);
    if (cached.hit) return cached.record;
    // No stale fallback: while the store is unreachable an uncached key gets 503, never a revoked key's 200.
    const record = await this.#store.findApiKey(hash);
    this.#cache.set(hash, record);
    return record;
  }
}

function bearerDigest(req: FastifyRequest): { token: string; value: Buffer } {
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  const token = match?.[1];
  if (token === undefined) throw new HttpError(401, 'HTTP_UNAUTHORIZED', 'missing bearer token');
  return { token, value: digestOf(token) };
}

/** Tenant isolation: another tenant's resources answer 404, not 403, so their existence is not revealed. */
export function assertTenantAccess(principal: Principal, tenant: string, what = 'tenant'): void {
  if (principal.kind === 'tenant' && principal.tenant !== tenant)
    throw new HttpError(404, 'HTTP_NOT_FOUND', `${what} not found`);
}

export function assertAdmin(principal: Principal): void {
  if (principal.kind !== 'admin') throw new HttpError(403, 'HTTP_FORBIDDEN', 'admin token required');
}
