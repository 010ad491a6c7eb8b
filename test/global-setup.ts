/**
 * Vitest globalSetup: builds dist/ once per test run, so tests that run the server as a process
 * (test/support/server-process.ts) run the code under test, not a stale build. `tsc` emits even when another
 * file of the tree has a type error, so a failing typecheck only warns here; a missing dist/src/cli.js fails.
 * Parallel test runs in one checkout build one at a time (a lock file). SWITCHBOARD_SKIP_BUILD=1 skips it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { withFileLock } from '../src/tenants/file-lock.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
const CACHE_DIR = fileURLToPath(new URL('../node_modules/.cache/', import.meta.url));

export default async function setup(): Promise<void> {
  if (process.env.SWITCHBOARD_SKIP_BUILD === '1') return;
  await mkdir(CACHE_DIR, { recursive: true });
  // A build takes 10–60 s on a loaded machine; one older than 3 min died.
  await withFileLock(
    `${CACHE_DIR}switchboard-build.lock`,
    async () => {
      try {
        await run('npm', ['run', '-s', 'build'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
      } catch (err) {
        const out = (err as { stdout?: string }).stdout ?? String(err);
        process.stderr.write(
          `global-setup: npm run build reported errors (dist still emitted):\n${out.slice(0, 4000)}\n`,
        );
      }
    },
    { timeoutMs: 240_000, staleMs: 180_000 },
  );
  if (!existsSync(CLI)) throw new Error(`global-setup: ${CLI} missing after the build`);
}
