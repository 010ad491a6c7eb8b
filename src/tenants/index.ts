import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { CredentialCipher } from './crypto.js';
import { FileRecordBackend } from './file-backend.js';
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
  const cipher = new CredentialCipher(await resolveMasterKey(config, logger), previousKeys);
  const backend =
    config.REDIS_URL !== undefined
      ? new RedisRecordBackend({
          url: config.REDIS_URL,
          logger,
          ...(options.redisKeyPrefix === undefined ? {} : { keyPrefix: options.redisKeyPrefix }),
        })
      : new FileRecordBackend(config.DATA_DIR);
  return new EncryptedTenantStore({ backend, cipher, logger });
}
