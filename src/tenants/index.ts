import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { CredentialCipher, TenantError } from './crypto.js';
import { FileRecordBackend } from './file-backend.js';
import { KeyRing } from './key-ring.js';
import { resolveMasterKey } from './master-key.js';
import { RedisRecordBackend } from './redis-backend.js';
import type { TenantStore } from './store.js';
import { EncryptedTenantStore } from './tenant-store.js';

export type { TenantStore, CredentialRecord, ApiKeyRecord } from './store.js';

/** Redis when REDIS_URL is set, else the embedded file store under DATA_DIR. */
export async function createTenantStore(
  config: Pick<Config, 'MASTER_KEY' | 'REDIS_URL' | 'DATA_DIR'>,
  logger: Logger,
  previousKeys: readonly Buffer[] = [],
  options: { readonly redisKeyPrefix?: string } = {},
): Promise<TenantStore> {
  const masterKey = await resolveMasterKey(config, logger);
  const cipher = new CredentialCipher(masterKey, previousKeys);
  const backend =
    config.REDIS_URL !== undefined
      ? new RedisRecordBackend({
          url: config.REDIS_URL,
          logger,
          ...(options.redisKeyPrefix === undefined ? {} : { keyPrefix: options.redisKeyPrefix }),
        })
      : new FileRecordBackend(config.DATA_DIR);
  const ring = new KeyRing({ backend, masterKey, cipher });
  try {
    // Give Redis a moment so the ring is loaded before the first call; never block startup on it.
    if (backend instanceof RedisRecordBackend) await backend.ready().catch(() => undefined);
    await ring.refresh();
  } catch (err) {
    // Redis may come later; the store re-reads the ring before every write and on an unknown key id.
    if (!(err instanceof TenantError) || err.code !== 'TENANT_STORE_UNAVAILABLE') throw err;
    logger.warn('key ring not readable yet (store unreachable); sealing with the master key until it is');
  }
  return new EncryptedTenantStore({ backend, cipher, logger, ring });
}
