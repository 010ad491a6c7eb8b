/**
 * `npm start` builds only when dist/ is stale (issue 19): scripts/build-if-stale.mjs, the prestart step, run
 * as a subprocess on a small project of its own (a temp dir with the same layout and the repository's
 * TypeScript), so what it decides is checked against what tsc then really emitted.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const script = join(repo, 'scripts', 'build-if-stale.mjs');

interface Run {
  readonly code: number | null;
  readonly stderr: string;
}

function build(cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script], { cwd, timeout: 120_000 }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stderr });
    });
  });
}

/** Sets a file's mtime `secondsAgo` in the past (mtime resolution differs between file systems). */
async function age(path: string, secondsAgo: number): Promise<void> {
  const t = new Date(Date.now() - secondsAgo * 1000);
  await utimes(path, t, t);
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-build-'));
  await mkdir(join(dir, 'src'));
  await mkdir(join(dir, 'bench'));
  await symlink(join(repo, 'node_modules'), join(dir, 'node_modules'));
  await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { module: 'nodenext', target: 'ES2023', outDir: 'dist', rootDir: '.', types: [] },
    }),
  );
  await writeFile(
    join(dir, 'tsconfig.build.json'),
    JSON.stringify({
      extends: './tsconfig.json',
      compilerOptions: { incremental: true, tsBuildInfoFile: 'dist/.tsbuildinfo' },
      include: ['src', 'bench'],
    }),
  );
  await writeFile(join(dir, 'src', 'cli.ts'), 'export const version = 1;\n');
  await writeFile(join(dir, 'src', 'extra.ts'), 'export const extra = true;\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('build-if-stale (npm prestart)', () => {
  it('builds when there is no dist/, then skips while nothing changed', { timeout: 240_000 }, async () => {
    const first = await build(dir);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/build: no previous build: tsc/);
    expect(readFileSync(join(dir, 'dist', 'src', 'cli.js'), 'utf8')).toMatch(/version = 1/);

    const stamp = statSync(join(dir, 'dist', '.tsbuildinfo')).mtimeMs;
    const second = await build(dir);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/dist\/ is current.*not rebuilding/);
    expect(statSync(join(dir, 'dist', '.tsbuildinfo')).mtimeMs).toBe(stamp);
  });

  it('rebuilds after a source edit, and the edit is in the output', { timeout: 240_000 }, async () => {
    await age(join(dir, 'dist', '.tsbuildinfo'), 60);
    await writeFile(join(dir, 'src', 'cli.ts'), 'export const version = 2;\n');
    const r = await build(dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/build: src changed: tsc/);
    expect(readFileSync(join(dir, 'dist', 'src', 'cli.js'), 'utf8')).toMatch(/version = 2/);
    expect((await build(dir)).stderr).toMatch(/not rebuilding/);
  });

  it(
    'rebuilds after a file is deleted, and after a touch that changed nothing it stops rebuilding',
    { timeout: 240_000 },
    async () => {
      await age(join(dir, 'dist', '.tsbuildinfo'), 60);
      await age(join(dir, 'src', 'cli.ts'), 120);
      await age(join(dir, 'src', 'extra.ts'), 120);
      await unlink(join(dir, 'src', 'extra.ts'));
      // Only the directory's mtime says a file went away.
      expect((await build(dir)).stderr).toMatch(/build: src changed/);

      await age(join(dir, 'dist', '.tsbuildinfo'), 60);
      const t = new Date();
      await utimes(join(dir, 'src', 'cli.ts'), t, t);
      expect((await build(dir)).stderr).toMatch(/build: src changed/);
      // tsc found nothing to emit; the script stamped dist/, so the same inputs do not build again.
      expect((await build(dir)).stderr).toMatch(/not rebuilding/);
    },
  );

  it(
    'a type error fails the start with tsc’s status and is reported again next time',
    { timeout: 240_000 },
    async () => {
      await age(join(dir, 'dist', '.tsbuildinfo'), 60);
      await writeFile(join(dir, 'src', 'cli.ts'), 'export const version: number = "three";\n');
      const r = await build(dir);
      expect(r.code).not.toBe(0);
      expect((await build(dir)).stderr).toMatch(/build: src changed: tsc/);
    },
  );
});
