import { mkdtemp, rm, stat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { resolveMasterKey } from '../../src/tenants/master-key.js';

function capture(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

describe('resolveMasterKey', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-key-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('generates a 0600 key file on the embedded default, warns with its path but not its value, and reuses it', async () => {
    const { logger, lines } = capture();
    const key = await resolveMasterKey(
      { DATA_DIR: dir, MASTER_KEY: undefined, REDIS_URL: undefined },
      logger,
    );
    expect(key.length).toBe(32);
    const file = join(dir, 'master.key');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, 'utf8')).trim()).toBe(key.toString('base64'));
    expect(lines.join('')).toContain(file);
    expect(lines.join('')).not.toContain(key.toString('base64'));
    const again = await resolveMasterKey(
      { DATA_DIR: dir, MASTER_KEY: undefined, REDIS_URL: undefined },
      logger,
    );
    expect(again.equals(key)).toBe(true);
  });

  it('requires MASTER_KEY with Redis', async () => {
    const { logger } = capture();
    await expect(
      resolveMasterKey({ DATA_DIR: dir, MASTER_KEY: undefined, REDIS_URL: 'redis://127.0.0.1:6379' }, logger),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID', variable: 'MASTER_KEY' });
  });

  it('uses MASTER_KEY when set', async () => {
    const { logger } = capture();
    const b64 = Buffer.alloc(32, 9).toString('base64');
    const key = await resolveMasterKey({ DATA_DIR: dir, MASTER_KEY: b64, REDIS_URL: undefined }, logger);
    expect(key.equals(Buffer.alloc(32, 9))).toBe(true);
  });
});
