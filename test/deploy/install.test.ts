/**
 * `npm ci` is warning-free on the supported Node majors (issue 19). Two warnings a newcomer met:
 * - `Unknown project config "build_from_source"`: a project .npmrc key npm does not know. npm itself is the
 *   witness here: any npm command run in the repository prints that warning while such a key is there.
 * - `EBADENGINE cookie@2.0.2 required: { node: '>=22' }`: a locked package whose `engines.node` excludes
 *   the running Node. Checked for every package in package-lock.json against the oldest supported release
 *   of each major (the floor of our own `engines`) and the Node running the test.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { nodeSatisfies } from '../support/engine-range.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

interface LockEntry {
  readonly version?: string;
  readonly engines?: Record<string, string> | string[];
  readonly dev?: boolean;
  readonly optional?: boolean;
}

const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(`${root}package-lock.json`, 'utf8')) as {
  packages: Record<string, LockEntry>;
};
/** The oldest release of each supported major: the floors in package.json's engines.node. */
const floors = [...pkg.engines.node.matchAll(/\^(\d+\.\d+\.\d+)/g)].map((m) => m[1] ?? '');

describe('npm install hygiene', () => {
  it('names two supported majors (20 and 22), and the running Node is one of them', () => {
    expect(floors.map((f) => f.split('.')[0])).toEqual(['20', '22']);
    expect(nodeSatisfies(pkg.engines.node, process.version)).toBe(true);
    // The evaluator itself on the forms it must tell apart (a wrong one would pass everything).
    expect(nodeSatisfies('>=22', '20.19.0')).toBe(false);
    expect(nodeSatisfies('^20.19.0 || >=22.12.0', '20.18.9')).toBe(false);
    expect(nodeSatisfies('^20.19.0 || >=22.12.0', '22.13.0')).toBe(true);
    expect(nodeSatisfies(pkg.engines.node, '24.0.0')).toBe(false);
  });

  it('every locked package accepts the oldest supported Node 20 and 22 and this Node (no EBADENGINE)', () => {
    const bad: string[] = [];
    let checked = 0;
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path === '') continue;
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (range === undefined) continue;
      checked++;
      for (const v of [...floors, process.version])
        if (!nodeSatisfies(range, v))
          bad.push(`${path}@${entry.version ?? '?'} engines.node "${range}" excludes ${v}`);
    }
    expect(checked).toBeGreaterThan(100);
    expect(bad).toEqual([]);
  });

  it('npm reads the project config without a warning (no unknown .npmrc key)', async () => {
    // Only this test's own environment: no npm_config_* variable inherited from a CI shell.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
    const { stdout, stderr } = await run('npm', ['pkg', 'get', 'name'], { cwd: root, env, timeout: 30_000 });
    expect(stdout.trim()).toBe('"switchboard"');
    expect(stderr).not.toMatch(/npm warn/i);
  });
});

describe('install commands', () => {
  it('the Dockerfile and .ci/run set no npm config variable npm does not know (npm 11: "Unknown env config")', () => {
    for (const file of ['Dockerfile', '.ci/run']) {
      const text = readFileSync(`${root}${file}`, 'utf8');
      expect(text, file).toMatch(/npm ci/);
      expect(text, file).not.toMatch(/^\s*(ENV|export)\s+npm_config_build_from_source/im);
    }
  });
});
