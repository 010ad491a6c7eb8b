/**
 * Dockerfile lint (issue 19; no hadolint here): the build context carries no secrets or dependencies, the
 * runtime stage has no compiler and installs nothing, every COPY source exists and is not ignored, and the
 * HEALTHCHECK asks /readyz. Parses the shipped files; each check fails on the mistake it names.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(`${root}Dockerfile`, 'utf8');
const ignore = readFileSync(`${root}.dockerignore`, 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

interface Stage {
  readonly name: string | undefined;
  readonly base: string;
  readonly lines: string[];
}

/** Instructions (continuation lines joined) grouped by FROM. */
function stages(text: string): Stage[] {
  const joined = text.replace(/\\\n/g, ' ').split('\n');
  const out: Stage[] = [];
  for (const raw of joined) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from !== null) out.push({ base: from[1] ?? '', name: from[2], lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

/** Whether a context path is excluded by a .dockerignore entry (the patterns used here: names and globs). */
function ignored(path: string): boolean {
  return ignore.some((pattern) => {
    const re = new RegExp(`^${pattern.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}(/|$)`);
    return re.test(path);
  });
}

const all = stages(dockerfile);
const runtime = all.at(-1)!;

describe('Dockerfile and .dockerignore', () => {
  it('the build context leaves out dependencies, build output, VCS, secrets and call data', () => {
    for (const path of [
      'node_modules',
      '.git',
      'dist',
      'data/admin.token',
      'data/master.key',
      'recordings/x',
    ])
      expect(ignored(path), path).toBe(true);
  });

  it('every COPY from the context exists and is not ignored', () => {
    const sources = all.flatMap((s) =>
      s.lines
        .filter((l) => /^COPY\s/i.test(l) && !/--from=/i.test(l))
        .flatMap((l) =>
          l
            .split(/\s+/)
            .slice(1, -1)
            .filter((a) => !a.startsWith('--')),
        ),
    );
    expect(sources.length).toBeGreaterThan(3);
    for (const src of sources) {
      expect(existsSync(`${root}${src}`), `${src} missing`).toBe(true);
      expect(ignored(src.replace(/^\.\//, '')), `${src} is in .dockerignore`).toBe(false);
    }
  });

  it('the runtime stage installs nothing and has no compiler; it copies built node_modules and dist', () => {
    const text = runtime.lines.join('\n');
    expect(text).not.toMatch(/apt-get|npm (ci|install|rebuild)|node-gyp|\bg\+\+|\bmake\b|python3/);
    const names = new Set(all.map((s) => s.name).filter((n) => n !== undefined));
    const fromCopies = runtime.lines.filter((l) => /^COPY\s+--from=/i.test(l));
    for (const l of fromCopies) expect(names.has(/--from=(\S+)/.exec(l)?.[1] ?? '')).toBe(true);
    expect(fromCopies.some((l) => /node_modules/.test(l))).toBe(true);
    expect(fromCopies.some((l) => /\/app\/dist/.test(l))).toBe(true);
    expect(runtime.lines).toContain('USER node');
  });

  it('the base images are pinned to a Node major and the HEALTHCHECK asks /readyz', () => {
    for (const s of all.filter((x) => !names(all).has(x.base))) expect(s.base).toMatch(/^node:\d+-/);
    const health = runtime.lines.find((l) => /^HEALTHCHECK\s/i.test(l));
    expect(health).toMatch(/\/readyz/);
    expect(health).toMatch(/HTTP_PORT/);
  });
});

function names(list: readonly Stage[]): Set<string> {
  return new Set(list.map((s) => s.name).filter((n): n is string => n !== undefined));
}
