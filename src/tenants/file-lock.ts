import { open, stat, unlink } from 'node:fs/promises';

export interface FileLockOptions {
  /** Give up after this long. Default 5000. */
  readonly timeoutMs?: number;
  /** A lock file older than this was left by a crashed process and is broken. Default 10000. */
  readonly staleMs?: number;
}

/**
 * Runs `fn` while holding `path` as an exclusive lock file (O_CREAT|O_EXCL), so read-modify-write cycles
 * of several processes on one data file (`switchboard keys …` beside a running server) never lose an
 * update. Polls every 10–30 ms; bounded by `timeoutMs`.
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const staleMs = options.staleMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = await stat(path).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > staleMs) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`lock ${path} held for more than ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}
