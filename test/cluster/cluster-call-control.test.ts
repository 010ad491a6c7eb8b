/**
 * ClusterCallControl over the real Redis on 127.0.0.1:6379 with fake local call tables: two "instances"
 * share a unique key prefix; calls of one are listed, read, hung up and transferred through the other.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../src/cluster/index.js';
import type { CallControl, CallSummary, DialRequest } from '../../src/http/ports.js';
import { fakeSummary } from '../support/fake-calls.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const logger = pino({ level: 'silent' });

class FakeCalls implements CallControl {
  readonly calls = new Map<string, CallSummary>();
  readonly hungUp: string[] = [];
  add(id: string, tenant = 'acme'): void {
    this.calls.set(id, fakeSummary(id, tenant));
  }
  list(): Promise<CallSummary[]> {
    return Promise.resolve([...this.calls.values()]);
  }
  get(id: string): Promise<CallSummary | undefined> {
    return Promise.resolve(this.calls.get(id));
  }
  hangup(id: string): Promise<boolean> {
    this.hungUp.push(id);
    return Promise.resolve(this.calls.delete(id));
  }
  transfer(id: string, destination: string): Promise<{ ok: boolean; status?: number; message: string }> {
    return Promise.resolve(
      destination === 'sales'
        ? { ok: true, status: 202, message: `moved ${id}` }
        : { ok: false, message: `unknown destination "${destination}"` },
    );
  }
  dial(_request: DialRequest): Promise<{ id: string }> {
    this.add('dialed');
    return Promise.resolve({ id: 'dialed' });
  }
}

async function eventually(check: () => Promise<void> | void, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('ClusterCallControl (real Redis)', () => {
  const prefix = `sbtest:${randomBytes(4).toString('hex')}:`;
  const localA = new FakeCalls();
  const localB = new FakeCalls();
  let a: Cluster;
  let b: Cluster;
  let redis: Redis;
  const opts = { url: REDIS_URL, keyPrefix: prefix, logger, syncIntervalMs: 200, relayTimeoutMs: 800 };

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    a = await startCluster({ ...opts, instanceId: 'A', local: localA });
    b = await startCluster({ ...opts, instanceId: 'B', local: localB });
  });
  afterEach(() => {
    localA.calls.clear();
    localB.calls.clear();
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('lists the calls of every instance, with their owner', async () => {
    localA.add('a1');
    localB.add('b1', 'other');
    await eventually(async () => {
      const all = await b.calls.list();
      expect(all.map((c) => [c.id, c.instance ?? 'local']).sort()).toEqual([
        ['a1', 'A'],
        ['b1', 'local'],
      ]);
    });
    expect(await redis.pttl(`${prefix}call:a1`)).toBeGreaterThan(10_000);
  });

  it('relays get, transfer and hangup to the owner; the ended call leaves the registry', async () => {
    localA.add('a2');
    await eventually(async () => expect(await b.calls.get('a2')).toMatchObject({ id: 'a2', instance: 'A' }));
    expect(await b.calls.transfer('a2', 'sales')).toEqual({ ok: true, status: 202, message: 'moved a2' });
    expect(await b.calls.transfer('a2', 'nowhere')).toMatchObject({ ok: false });
    expect(await b.calls.hangup('a2')).toBe(true);
    expect(localA.hungUp).toContain('a2');
    await eventually(async () => expect(await redis.exists(`${prefix}call:a2`)).toBe(0));
    expect(await b.calls.get('a2')).toBeUndefined();
    expect(await b.calls.hangup('a2')).toBe(false);
    expect(await b.calls.transfer('a2', 'sales')).toMatchObject({ ok: false, message: 'no such call' });
  });

  it('publishes a dialed call at once', async () => {
    await a.calls.dial({ tenant: 'acme', to: 'sip:x@127.0.0.1' });
    await eventually(async () => expect(await redis.exists(`${prefix}call:dialed`)).toBe(1), 1000);
  });

  it('answers 504 when the owner is gone or silent', async () => {
    const entry = (id: string, instance: string): string =>
      JSON.stringify({ instance, summary: { ...[...localA.calls.values()][0], id } });
    localA.add('template');
    // No subscriber for instance "ghost": the publish reaches nobody.
    await redis.set(`${prefix}call:g1`, entry('g1', 'ghost'), 'PX', 5000);
    await expect(b.calls.get('g1')).rejects.toMatchObject({ statusCode: 504 });
    // A subscriber that never answers: the relay's timeout fires.
    const mute = new Redis(REDIS_URL);
    await mute.subscribe(`${prefix}relay:request:mute`);
    await redis.set(`${prefix}call:m1`, entry('m1', 'mute'), 'PX', 5000);
    await expect(b.calls.hangup('m1')).rejects.toMatchObject({ statusCode: 504, code: 'HTTP_RELAY_TIMEOUT' });
    await mute.quit();
  });

  it('ignores malformed registry entries and relay messages', async () => {
    await redis.set(`${prefix}call:bad`, '{"instance":1}', 'PX', 5000);
    await redis.publish(`${prefix}relay:request:A`, 'not json');
    await redis.publish(
      `${prefix}relay:request:A`,
      JSON.stringify({ cid: 'x', replyTo: 'y', request: { op: 'rm' } }),
    );
    expect((await b.calls.list()).map((c) => c.id)).not.toContain('bad');
    expect(await b.calls.get('bad')).toBeUndefined();
  });
});
