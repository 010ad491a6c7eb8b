/**
 * Instance death at the cluster layer, over the real Redis on 127.0.0.1:6379 with fake local call tables
 * (issue 12): B crashes (timers stopped, connections dropped, nothing removed); on A its call turns `lost`
 * once B's heartbeat key expires, control of it answers 410 at once, A's own call is untouched, and A's
 * janitor removes the lost call after the retention. A live owner that does not answer still gives 504.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceKey, startCluster, type Cluster } from '../../src/cluster/index.js';
import { eventually } from '../support/eventually.js';
import { fakeCallTable as table, fakeSummary as summary } from '../support/fake-calls.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const logger = pino({ level: 'silent' });
/** Heartbeat every 200 ms, dead after 1 s without one (room for a loaded machine); lost calls listed 1.5 s. */
const HEARTBEAT_MS = 200;
const INSTANCE_TTL_MS = 1000;
const RETENTION_MS = 1500;
/** Longer than any bounded wait below: a relay waiting for a dead owner would fail the assertion. */
const RELAY_TIMEOUT_MS = 3000;

/** Rejects after `ms`: bounds a call that must not wait for a relay. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function lostCount(metrics: Registry): Promise<number> {
  const metric = await metrics.getSingleMetric('switchboard_cluster_lost_calls_total')?.get();
  return metric?.values.reduce((sum, v) => sum + v.value, 0) ?? 0;
}

describe('a crashed instance (real Redis)', () => {
  const prefix = `sbtest:lost:${randomBytes(4).toString('hex')}:`;
  const opts = {
    url: REDIS_URL,
    keyPrefix: prefix,
    logger,
    syncIntervalMs: 100,
    heartbeatMs: HEARTBEAT_MS,
    instanceTtlMs: INSTANCE_TTL_MS,
    lostRetentionMs: RETENTION_MS,
    relayTimeoutMs: RELAY_TIMEOUT_MS,
  };
  const metricsA = new Registry();
  const localA = table(['a1']);
  let a: Cluster;
  let b: Cluster;
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    a = await startCluster({ ...opts, instanceId: 'A', local: localA, metrics: metricsA });
    b = await startCluster({ ...opts, instanceId: 'B', local: table(['b1']) });
  });
  afterAll(async () => {
    await a?.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('lists its calls as lost within the TTL, answers 410 at once, then removes them', async () => {
    const states = async (): Promise<Array<[string, string, string]>> =>
      (await a.calls.list()).map((c) => [c.id, c.instance ?? 'local', c.state]);
    await eventually(async () => {
      expect(await states()).toContainEqual(['b1', 'B', 'active']);
    }, 5000);
    const record = JSON.parse((await redis.get(instanceKey(prefix, 'B'))) ?? '{}') as Record<string, unknown>;
    expect(record).toMatchObject({ status: 'serving', boot: b.heartbeat.boot });
    expect(await redis.pttl(instanceKey(prefix, 'B'))).toBeLessThanOrEqual(INSTANCE_TTL_MS);

    b.crash();
    // Nothing was removed: the call entry is there, only the heartbeat runs out.
    expect(await redis.exists(`${prefix}call:b1`)).toBe(1);
    // Lost within the instance TTL (plus a heartbeat and the polling step for a loaded machine).
    await eventually(async () => {
      expect(await states()).toContainEqual(['b1', 'B', 'lost']);
    }, 5000);
    expect(await redis.exists(instanceKey(prefix, 'B'))).toBe(0);

    await expect(within(a.calls.hangup('b1'), 1500)).rejects.toMatchObject({
      statusCode: 410,
      code: 'HTTP_CALL_LOST',
    });
    await expect(within(a.calls.transfer('b1', 'sales'), 1500)).rejects.toMatchObject({ statusCode: 410 });
    expect(await within(a.calls.get('b1'), 1500)).toMatchObject({ id: 'b1', instance: 'B', state: 'lost' });

    // A's own call is untouched and still controllable.
    expect(await states()).toContainEqual(['a1', 'local', 'active']);
    expect(await a.calls.get('a1')).toMatchObject({ state: 'active' });

    // A's janitor marks the entry, counts it once, and removes it after the retention.
    await eventually(async () => {
      const entry = JSON.parse((await redis.get(`${prefix}call:b1`)) ?? '{}') as { lostAt?: string };
      expect(entry.lostAt).toEqual(expect.any(String));
    }, 3000);
    expect(await lostCount(metricsA)).toBe(1);
    await eventually(async () => {
      expect((await states()).map(([id]) => id)).toEqual(['a1']);
    }, RETENTION_MS + 5000);
    expect(await redis.exists(`${prefix}call:b1`)).toBe(0);
    expect(await a.calls.get('b1')).toBeUndefined();
    expect(await a.calls.hangup('b1')).toBe(false);
    expect(await lostCount(metricsA)).toBe(1);
  });

  it('still answers 504 for a live owner that does not reply, and 410 once its heartbeat is gone', async () => {
    const boot = 'mute-boot';
    const heartbeat = JSON.stringify({
      status: 'serving',
      boot,
      startedAt: new Date().toISOString(),
      heartbeatAt: new Date().toISOString(),
    });
    await redis.set(instanceKey(prefix, 'mute'), heartbeat, 'PX', 30_000);
    await redis.set(
      `${prefix}call:m1`,
      JSON.stringify({ instance: 'mute', boot, summary: summary('m1') }),
      'PX',
      30_000,
    );
    const mute = new Redis(REDIS_URL);
    try {
      await mute.subscribe(`${prefix}relay:request:mute`);
      expect((await a.calls.list()).find((c) => c.id === 'm1')).toMatchObject({ state: 'active' });
      await expect(a.calls.hangup('m1')).rejects.toMatchObject({
        statusCode: 504,
        code: 'HTTP_RELAY_TIMEOUT',
      });
      await redis.del(instanceKey(prefix, 'mute'));
      await expect(within(a.calls.hangup('m1'), 1500)).rejects.toMatchObject({ statusCode: 410 });
    } finally {
      await mute.quit();
      await redis.del(`${prefix}call:m1`);
    }
  }, 20_000);

  it('tells a restart under the same instance id apart, and a stalled owner that comes back', async () => {
    const record = (boot: string): string =>
      JSON.stringify({ status: 'serving', boot, startedAt: '', heartbeatAt: '' });
    // "R" restarted: its heartbeat is a new boot's; the old boot's call died with the old process.
    await redis.set(instanceKey(prefix, 'R'), record('new'), 'PX', 30_000);
    const old = JSON.stringify({ instance: 'R', boot: 'old', summary: summary('r-old') });
    await redis.set(`${prefix}call:r-old`, old, 'PX', 30_000);
    // "S" stalled long enough to be marked lost, then beat again: listed active, its mark is overwritten later.
    await redis.set(instanceKey(prefix, 'S'), record('s1'), 'PX', 30_000);
    const stale = { instance: 'S', boot: 's1', lostAt: new Date().toISOString(), summary: summary('s-call') };
    await redis.set(`${prefix}call:s-call`, JSON.stringify(stale), 'PX', 30_000);
    try {
      const listed = await a.calls.list();
      expect(listed.find((c) => c.id === 'r-old')).toMatchObject({ instance: 'R', state: 'lost' });
      expect(listed.find((c) => c.id === 's-call')).toMatchObject({ instance: 'S', state: 'active' });
      await expect(within(a.calls.hangup('r-old'), 1500)).rejects.toMatchObject({ statusCode: 410 });
      // The janitor leaves a live owner's entry alone, even with a mark on it.
      await new Promise((r) => setTimeout(r, 3 * HEARTBEAT_MS));
      expect(JSON.parse((await redis.get(`${prefix}call:s-call`)) ?? '{}')).toEqual(stale);
    } finally {
      await redis.del(`${prefix}call:r-old`, `${prefix}call:s-call`, instanceKey(prefix, 'R'));
      await redis.del(instanceKey(prefix, 'S'));
    }
  });

  it('announces draining in the heartbeat; a draining instance still owns its calls', async () => {
    expect(await a.setStatus('draining')).toBe(true);
    const record = JSON.parse((await redis.get(instanceKey(prefix, 'A'))) ?? '{}') as Record<string, unknown>;
    expect(record).toMatchObject({ status: 'draining', boot: a.heartbeat.boot });
    // The next beats keep the status.
    await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_MS));
    expect(JSON.parse((await redis.get(instanceKey(prefix, 'A'))) ?? '{}')).toMatchObject({
      status: 'draining',
    });
    // A third instance sees A's call as active.
    const c = await startCluster({ ...opts, instanceId: 'C', local: table([]) });
    try {
      await eventually(async () => {
        expect((await c.calls.list()).find((x) => x.id === 'a1')).toMatchObject({ state: 'active' });
      }, 5000);
    } finally {
      await c.close();
    }
    expect(await a.setStatus('serving')).toBe(true);
  });
});
