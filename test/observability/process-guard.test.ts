import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { counter, createMetricsRegistry } from '../../src/observability/metrics.js';
import { installProcessGuard } from '../../src/observability/process-guard.js';

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
});
