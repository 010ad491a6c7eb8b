import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { withFileLock } from './file-lock.js';
import type { RecordBackend } from './record-backend.js';

/**
 * All records in one JSON file under DATA_DIR, mode 0600, replaced atomically (temp file + fsync + rename)
 * so a crash mid-write leaves either the old or the new file, never half of one. The file is re-read on
 * every operation, so `switchboard tenants …` run beside a live server takes effect at once.
 */
export class FileRecordBackend implements RecordBackend {
  readonly kind = 'file' as const;
  readonly #path: string;
  readonly #dir: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(dir: string, fileName = 'tenants.json') {
    this.#dir = dir;
    this.#path = join(dir, fileName);
  }

  async #read(): Promise<Record<string, string>> {
    try {
      const parsed = JSON.parse(await readFile(this.#path, 'utf8')) as unknown;
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
      return parsed as Record<string, string>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
  }

  async #write(data: Record<string, string>): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.#path}.${process.pid}.${Date.now()}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(data, null, 1));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, this.#path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /** Serialise read-modify-write cycles: a queue within this process, a lock file across processes. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const locked = (): Promise<T> => withFileLock(`${this.#path}.lock`, fn);
    const run = this.#queue.then(locked, locked);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async get(key: string): Promise<string | undefined> {
    const data = await this.#read();
    return Object.hasOwn(data, key) ? data[key] : undefined;
  }

  set(key: string, value: string): Promise<void> {
    return this.#exclusive(async () => {
      const data = await this.#read();
      data[key] = value;
      await this.#write(data);
    });
  }

  compareAndSet(key: string, expected: string | undefined, value: string): Promise<boolean> {
    return this.#exclusive(async () => {
      const data = await this.#read();
      if (data[key] !== expected) return false;
      data[key] = value;
      await this.#write(data);
      return true;
    });
  }

  delete(key: string): Promise<boolean> {
    return this.#exclusive(async () => {
      const data = await this.#read();
      if (!Object.hasOwn(data, key)) return false;
      delete data[key];
      await this.#write(data);
      return true;
    });
  }

  async keys(prefix: string): Promise<string[]> {
    return Object.keys(await this.#read())
      .filter((k) => k.startsWith(prefix))
      .sort();
  }

  async ping(): Promise<boolean> {
    try {
      await this.#read();
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.#queue.then(() => undefined);
  }
}
