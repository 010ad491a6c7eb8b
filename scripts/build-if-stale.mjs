// @ts-check
/**
 * `npm start`'s prebuild (issue 19): runs `tsc -p tsconfig.build.json` only when dist/ is older than what
 * it is built from. Even incremental, tsc needs 5–60 s on a loaded 2-core machine to find that nothing
 * changed (it re-reads and hashes every source file); comparing modification times takes milliseconds.
 *
 * Stale when dist/.tsbuildinfo (written by every emitting build) or dist/src/cli.js is missing, or any
 * file or directory under the build's inputs is newer than it (a directory's mtime moves when a file in it
 * is added, removed or renamed, so deletions count too). `--force` always builds. Exit status: tsc's.
 * Run from the package root (npm scripts do).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

const root = process.cwd();
const STAMP = join(root, 'dist', '.tsbuildinfo');
const ENTRY = join(root, 'dist', 'src', 'cli.js');
/** What tsconfig.build.json compiles and what changes its output. */
const INPUTS = ['src', 'bench', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
/** A bound on the walk (the tree has a few hundred files). */
const MAX_ENTRIES = 50_000;

/**
 * Newest mtime (ms) of a path and, for a directory, everything below it.
 * @param {string} start
 * @returns {number}
 */
function newestMtimeMs(start) {
  let newest = 0;
  const queue = [start];
  for (let seen = 0; queue.length > 0 && seen < MAX_ENTRIES; seen++) {
    const path = /** @type {string} */ (queue.pop());
    let st;
    try {
      st = statSync(path);
    } catch {
      continue;
    }
    newest = Math.max(newest, st.mtimeMs);
    if (st.isDirectory()) for (const name of readdirSync(path)) queue.push(join(path, name));
  }
  return newest;
}

/** @returns {string | undefined} why a build is needed, or undefined when dist/ is current */
function staleReason() {
  if (process.argv.includes('--force')) return '--force';
  if (!existsSync(STAMP) || !existsSync(ENTRY)) return 'no previous build';
  const built = statSync(STAMP).mtimeMs;
  for (const input of INPUTS) if (newestMtimeMs(join(root, input)) > built) return `${input} changed`;
  return undefined;
}

const reason = staleReason();
if (reason === undefined) {
  process.stderr.write(
    'build: dist/ is current (newer than src/, bench/ and the tsconfigs); not rebuilding\n',
  );
  process.exit(0);
}
process.stderr.write(`build: ${reason}: tsc -p tsconfig.build.json\n`);
const tsc = spawnSync(
  process.execPath,
  [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
// tsc leaves .tsbuildinfo alone when nothing it hashes changed (a touched file, a checkout of the same
// content): stamp it, so the next start does not run tsc again for the same inputs. After errors tsc still
// emits and writes it: date it back, so the next start builds again and reports them again.
if (existsSync(STAMP)) {
  const when = tsc.status === 0 ? new Date() : new Date(0);
  utimesSync(STAMP, when, when);
}
process.exit(tsc.status ?? 1);
