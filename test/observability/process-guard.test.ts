import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { counter, createMetricsRegistry } from '../../src/observability/metrics.js';
import {
  currentCall,
  handlerBoundary,
  inCallScope,
  installProcessGuard,
} from '../../src/observability/process-guard.js';

const run = promisify(execFile);
/** Built by test/global-setup.ts for every test run. */
const DIST_GUARD = fileURLToPath(new URL('../../dist/src/observability/process-guard.js', import.meta.url));
const DIST_LOGGER = fileURLToPath(new URL('../../dist/src/observability/logger.js', import.meta.url));

function setup(activeCalls: number) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger({ level: 'info', destination });
  const metrics = createMetricsRegistry();
  const failures = counter(metrics, 'switchboard_stray_errors_total', 'stray errors', ['kind']);
  const events = new EventEmitter();
  const uninstall = installProcessGuard({ logger, events, activeCalls: () => activeCalls, failures });
  return { lines, metrics, events, uninstall };
}

describe('process guard', () => {
  it('logs an unhandled rejection with the call id it carries, counts it, and keeps listening', async () => {
    const { lines, metrics, events } = setup(3);
    const err = Object.assign(new Error('bridge allocate failed'), { callId: 'call-42' });
    events.emit('unhandledRejection', err);
    events.emit('uncaughtException', new Error('socket handler threw'));
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 50,
      kind: 'unhandledRejection',
      callId: 'call-42',
      activeCalls: 3,
    });
    expect(lines[1]).toMatchObject({ level: 50, kind: 'uncaughtException', activeCalls: 3 });
    expect(lines[1]).not.toHaveProperty('callId');
    const text = await metrics.metrics();
    expect(text).toContain('switchboard_stray_errors_total{kind="unhandledRejection"} 1');
    expect(text).toContain('switchboard_stray_errors_total{kind="uncaughtException"} 1');
  });

  it('uninstalls its listeners', () => {
    const { events, uninstall } = setup(0);
    expect(events.listenerCount('unhandledRejection')).toBe(1);
    uninstall();
    expect(events.listenerCount('unhandledRejection')).toBe(0);
    expect(events.listenerCount('uncaughtException')).toBe(0);
  });

  it('logs a stray error with the call whose work raised it (no id carried by the error)', async () => {
    const { lines, events } = setup(2);
    inCallScope({ callId: 'call-7', tenant: 'acme' }, () => {
      // What Node does for a rejection nobody handled: the event fires in the context of the code that rejected.
      setTimeout(() => events.emit('unhandledRejection', new Error('provider adapter bug')), 5);
    });
    events.emit('uncaughtException', new Error('outside any call'));
    await new Promise((r) => setTimeout(r, 30));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ kind: 'uncaughtException' });
    expect(lines[0]).not.toHaveProperty('callId');
    expect(lines[1]).toMatchObject({ kind: 'unhandledRejection', callId: 'call-7', tenant: 'acme' });
  });

  it('a handler boundary keeps the call scope for the work it starts and hands its throw to onError', async () => {
    const caught: unknown[] = [];
    let later: string | undefined;
    const handler = inCallScope({ callId: 'call-9' }, () =>
      handlerBoundary((err) => caught.push(err))((fail: boolean) => {
        setTimeout(() => (later = currentCall()?.callId), 1);
        if (fail) throw new Error('handler bug');
      }),
    );
    // Called from outside the call (an emitter of the SIP stack or a socket): nothing escapes.
    expect(() => handler(true)).not.toThrow();
    expect(currentCall()).toBeUndefined();
    await new Promise((r) => setTimeout(r, 20));
    expect(caught).toHaveLength(1);
    expect(later).toBe('call-9');
  });

  it(
    'in a real process: errors escaping a call are logged with its id and the process keeps running',
    { timeout: 20_000 },
    async () => {
      expect(existsSync(DIST_GUARD), 'dist/ is built by test/global-setup.ts').toBe(true);
      const dir = await mkdtemp(join(tmpdir(), 'sb-guard-'));
      try {
        const script = join(dir, 'guard.mjs');
        await writeFile(
          script,
          [
            `import { installProcessGuard, inCallScope } from ${JSON.stringify(pathToFileURL(DIST_GUARD).href)};`,
            `import { createLogger } from ${JSON.stringify(pathToFileURL(DIST_LOGGER).href)};`,
            "const logger = createLogger({ level: 'info' });",
            'installProcessGuard({ logger, events: process, activeCalls: () => 1 });',
            "inCallScope({ callId: 'call-a', tenant: 't1' }, () => {",
            "  setTimeout(() => { throw new Error('timer bug'); }, 5);",
            '});',
            "inCallScope({ callId: 'call-b', tenant: 't2' }, () => {",
            "  (async () => { await new Promise((r) => setTimeout(r, 10)); throw new Error('async bug'); })();",
            '});',
            "setTimeout(() => { logger.info('still serving'); }, 100);",
          ].join('\n'),
        );
        const { stdout } = await run(process.execPath, [script], { timeout: 15_000 });
        const logged = stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(logged.find((l) => l.kind === 'uncaughtException')).toMatchObject({
          callId: 'call-a',
          tenant: 't1',
          level: 50,
        });
        expect(logged.find((l) => l.kind === 'unhandledRejection')).toMatchObject({
          callId: 'call-b',
          tenant: 't2',
        });
        // Exit code 0 (run() rejects otherwise) after the later log line: the process was not taken down.
        expect(logged.at(-1)).toMatchObject({ msg: 'still serving' });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
