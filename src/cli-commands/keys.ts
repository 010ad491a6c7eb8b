import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import { CredentialCipher, decodeMasterKey, keyId } from '../tenants/crypto.js';
import { FileRecordBackend } from '../tenants/file-backend.js';
import { MASTER_KEY_FILE, resolveMasterKey, writeSecretFile } from '../tenants/master-key.js';
import { RedisRecordBackend } from '../tenants/redis-backend.js';
import { EncryptedTenantStore } from '../tenants/tenant-store.js';

/**
 * `switchboard keys rotate`: re-encrypt every credential under a new master key. With the embedded default
 * the new key replaces DATA_DIR/master.key; with MASTER_KEY set, the operator sets the new value afterwards.
 */
export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('manage the master key that encrypts credentials');
  keys
    .command('rotate')
    .description('re-encrypt every stored credential under a new master key')
    .option('--new-key <base64>', 'the new 32-byte key, base64 (default: generate one)')
    .action(async (options: { newKey?: string }) => {
      const config = loadConfig(process.env);
      const logger = createLogger({ level: 'warn' });
      const oldKey = await resolveMasterKey(config, logger);
      const newKey = options.newKey === undefined ? randomBytes(32) : decodeMasterKey(options.newKey);
      const backend =
        config.REDIS_URL === undefined
          ? new FileRecordBackend(config.DATA_DIR)
          : new RedisRecordBackend({ url: config.REDIS_URL, logger });
      const store = new EncryptedTenantStore({
        backend,
        cipher: new CredentialCipher(newKey, [oldKey]),
        logger,
      });
      try {
        const count = await store.reencryptAll();
        process.stdout.write(
          `re-encrypted ${count} credential(s) under key ${keyId(newKey)} (was ${keyId(oldKey)})\n`,
        );
        if (config.MASTER_KEY === undefined) {
          await writeSecretFile(config.DATA_DIR, MASTER_KEY_FILE, `${newKey.toString('base64')}\n`);
          process.stdout.write(`new key written to ${config.DATA_DIR}/${MASTER_KEY_FILE}\n`);
        } else if (options.newKey === undefined) {
          process.stdout.write(`set MASTER_KEY=${newKey.toString('base64')} and restart every instance\n`);
        } else {
          process.stdout.write('set MASTER_KEY to the new key and restart every instance\n');
        }
      } finally {
        await store.close();
      }
    });
}
