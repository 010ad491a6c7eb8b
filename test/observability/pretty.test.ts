/**
 * LOG_FORMAT=pretty (issue 19): pino's lines re-rendered for a terminal, after redaction; JSON stays the
 * default. The last case runs the built CLI's `serve` as a process and reads its first log lines.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { prettyLine } from '../../src/observability/pretty.js';
import { CLI_PATH } from '../support/server-process.js';

describe('pretty log lines', () => {
  it('renders time, level, component, message and the other fields as key=value', () => {
    const line = prettyLine(
      JSON.stringify({
        level: 40,
        time: '2026-12-03T18:38:00.429Z',
        service: 'switchboard',
        component: 'calls',
        msg: 'call ended',
        reason: 'caller-bye',
        durationMs: 1234,
        note: 'two words',
        err: { message: 'boom', stack: 'Error: boom\n    at x' },
      }),
    );
    expect(line).toBe(
      '18:38:00.429 WARN  [calls] call ended  reason=caller-bye durationMs=1234 note="two words" err=boom',
    );
  });

  it('passes a line that is not JSON through unchanged', () => {
    expect(prettyLine('plain text')).toBe('plain text');
  });

  it('keeps redaction: a secret logged through a pretty logger reads [redacted]', () => {
    const out: string[] = [];
    const logger = createLogger({
      level: 'info',
      format: 'pretty',
      destination: { write: (s: string) => out.push(s) },
    });
    logger.info({ apiKey: 'sk-live-secret', tenant: 'acme' }, 'credential stored');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/INFO {2}credential stored {2}apiKey=\[redacted\] tenant=acme\n$/);
    expect(out.join('')).not.toContain('sk-live-secret');
  });

  it('is a config choice: json by default, pretty on request, anything else a config error', () => {
    expect(loadConfig({}).LOG_FORMAT).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'pretty' }).LOG_FORMAT).toBe('pretty');
    expect(() => loadConfig({ LOG_FORMAT: 'fancy' })).toThrow(/LOG_FORMAT/);
  });

  it('`serve` with LOG_FORMAT=pretty prints readable lines, not JSON', { timeout: 30_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-pretty-'));
    const child = spawn(process.execPath, [CLI_PATH, 'serve'], {
      env: {
        PATH: process.env.PATH ?? '',
        LOG_FORMAT: 'pretty',
        DATA_DIR: join(dir, 'data'),
        DIALPLANS_DIR: join(dir, 'dialplans'),
        RECORDINGS_DIR: join(dir, 'rec'),
        SIP_HOST: '127.0.0.1',
        SIP_PORT: '0',
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: '0',
      },
    });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    try {
      const until = Date.now() + 25_000;
      while (!/listening/.test(text) && Date.now() < until && child.exitCode === null)
        await new Promise((r) => setTimeout(r, 100));
      const lines = text.split('\n').filter((l) => l !== '');
      expect(lines.length, text).toBeGreaterThan(0);
      for (const l of lines) {
        expect(l.startsWith('{'), l).toBe(false);
        expect(l).toMatch(/^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL)/);
      }
      expect(text).toMatch(/listening/);
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
