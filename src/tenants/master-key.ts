import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { decodeMasterKey } from './crypto.js';

export const MASTER_KEY_FILE = 'master.key';

/** Write a secret file readable by its owner only, atomically. */
export async function writeSecretFile(dir: string, name: string, content: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return path;
}

/**
 * The key that seals credentials. MASTER_KEY wins; with Redis (shared by several instances) it is required;
 * on the embedded default one is generated into DATA_DIR (0600) with a warning, and reused afterwards.
 */
export async function resolveMasterKey(
  config: Pick<Config, 'MASTER_KEY' | 'REDIS_URL' | 'DATA_DIR'>,
  logger: Logger,
): Promise<Buffer> {
  if (config.MASTER_KEY !== undefined) return decodeMasterKey(config.MASTER_KEY);
  if (config.REDIS_URL !== undefined) {
    throw new ConfigError('MASTER_KEY', 'required when REDIS_URL is set (every instance must share the key)');
  }
  const path = join(config.DATA_DIR, MASTER_KEY_FILE);
  try {
    return decodeMasterKey((await readFile(path, 'utf8')).trim());
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32);
  await writeSecretFile(config.DATA_DIR, MASTER_KEY_FILE, `${key.toString('base64')}\n`);
  logger.warn({ path }, 'MASTER_KEY not set: generated a master key file; back it up or set MASTER_KEY');
  return key;
}
