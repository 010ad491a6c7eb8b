import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import { CredentialCipher, decodeMasterKey } from '../tenants/crypto.js';
import { FileRecordBackend } from '../tenants/file-backend.js';
import { KeyRing } from '../tenants/key-ring.js';
import { resolveMasterKey } from '../tenants/master-key.js';
import { RedisRecordBackend } from '../tenants/redis-backend.js';
import { EncryptedTenantStore } from '../tenants/tenant-store.js';

type KeysConfig = Pick<Config, 'MASTER_KEY' | 'REDIS_URL' | 'DATA_DIR'>;

/** The ring and store over the same backend a server with `config` uses (Redis prefix included). */
async function openRing<T>(
  config: KeysConfig,
  options: { redisKeyPrefix?: string | undefined },
  fn: (ring: KeyRing, store: EncryptedTenantStore) => Promise<T>,
): Promise<T> {
  const logger = createLogger({ level: 'warn' });
  const masterKey = await resolveMasterKey(config, logger);
  const backend =
    config.REDIS_URL === undefined
      ? new FileRecordBackend(config.DATA_DIR)
      : new RedisRecordBackend({
          url: config.REDIS_URL,
          logger,
          ...(options.redisKeyPrefix === undefined ? {} : { keyPrefix: options.redisKeyPrefix }),
        });
  try {
    if (backend instanceof RedisRecordBackend) await backend.ready();
    const cipher = new CredentialCipher(masterKey);
    const ring = new KeyRing({ backend, masterKey, cipher });
    await ring.refresh();
    return await fn(ring, new EncryptedTenantStore({ backend, cipher, logger, ring }));
  } finally {
    await backend.close();
  }
}

/** `keys rotate`: a new current key; the previous ones keep opening what they sealed until `keys retire`. */
export function rotateKeys(
  config: KeysConfig,
  options: { newKey?: string; redisKeyPrefix?: string } = {},
): Promise<string> {
  return openRing(config, options, async (ring) => {
    const before = ring.cipher.currentKeyId;
    const kid = await ring.rotate(options.newKey === undefined ? undefined : decodeMasterKey(options.newKey));
    return (
      `key ${kid} is now current (was ${before}); running servers seal with it from their next write.\n` +
      'Older keys still open what they sealed; `switchboard keys retire` re-encrypts and removes them.\n'
    );
  });
}

/** `keys retire`: re-encrypt under the current key (unless told not to), then drop keys nothing uses. */
export function retireKeys(
  config: KeysConfig,
  options: { reencrypt?: boolean; redisKeyPrefix?: string } = {},
): Promise<string> {
  return openRing(config, options, async (ring, store) => {
    const count = options.reencrypt === false ? 0 : await store.reencryptAll();
    const retire = (await ring.list()).filter((k) => !k.current && !k.master).map((k) => k.kid);
    await ring.remove(retire, async (kid) => (await store.keyUsage()).get(kid) ?? 0);
    return (
      `re-encrypted ${count} credential(s) under key ${ring.cipher.currentKeyId}; ` +
      `retired ${retire.length === 0 ? 'no keys' : retire.join(', ')}\n`
    );
  });
}

/** `keys list`: every key of the ring and how many credentials it seals. */
export function listKeys(config: KeysConfig, options: { redisKeyPrefix?: string } = {}): Promise<string> {
  return openRing(config, options, async (ring, store) => {
    const usage = await store.keyUsage();
    return (await ring.list())
      .map(
        (k) =>
          `${k.kid}${k.current ? ' current' : ''}${k.master ? ' master' : ''} ` +
          `credentials=${usage.get(k.kid) ?? 0}\n`,
      )
      .join('');
  });
}

/** `switchboard keys …`: the credential key ring (issue 11). Safe beside running servers. */
export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('manage the key ring that encrypts credentials');
  const config = (): Config => loadConfig(process.env);
  keys
    .command('rotate')
    .description('add a new current key; older keys stay decrypt-only until `keys retire`')
    .option('--new-key <base64>', 'the new 32-byte key, base64 (default: generate one)')
    .action(async (options: { newKey?: string }) => {
      process.stdout.write(await rotateKeys(config(), options));
    });
  keys
    .command('retire')
    .description('re-encrypt every credential under the current key, then remove the keys nothing uses')
    .option('--no-reencrypt', 'only remove keys that already seal nothing')
    .action(async (options: { reencrypt: boolean }) => {
      process.stdout.write(await retireKeys(config(), options));
    });
  keys
    .command('list')
    .description('list the keys and how many credentials each seals')
    .action(async () => {
      process.stdout.write(await listKeys(config()));
    });
}
