/**
 * Runs the built CLI (`node dist/src/cli.js …`, built by the test globalSetup) as a subprocess with a clean
 * environment, and checks the one-line error contract of issue 19.
 */
import { execFile } from 'node:child_process';
import { expect } from 'vitest';
import { CLI_PATH } from './server-process.js';

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function cli(args: readonly string[], env: Record<string, string> = {}, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_PATH, ...args],
      {
        env: { PATH: process.env.PATH ?? '', ...env },
        timeout: 30_000,
        ...(cwd === undefined ? {} : { cwd }),
      },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** stderr is exactly one `switchboard: …` line (no stack trace, no "at …" frames). */
export function expectOneLine(r: Run, pattern: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0], r.stderr).toMatch(/^switchboard: /);
  expect(lines[0], r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}
