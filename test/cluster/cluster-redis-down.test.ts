/**
 * ClusterCallControl when Redis goes away and comes back (a private redis-server on a spare port): local
 * calls keep answering, other instances' calls are not visible meanwhile, and after the restart (an empty
 * Redis: no persistence) each instance republishes its calls by itself.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../src/cluster/index.js';
import { fakeCallTable as table } from '../support/fake-calls.js';
import { PrivateRedis, sparePort } from '../support/redis-server.js';

const logger = pino({ level: 'silent' });

async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 150));
    }
  }
}

describe('ClusterCallControl without Redis', () => {
  let redis: PrivateRedis;
  let a: Cluster;
  let b: Cluster;

  beforeAll(async () => {
    redis = new PrivateRedis(await sparePort());
    await redis.start();
    const opts = { url: redis.url, logger, syncIntervalMs: 200, relayTimeoutMs: 500 };
    a = await startCluster({ ...opts, instanceId: 'A', local: table(['a1']) });
    b = await startCluster({ ...opts, instanceId: 'B', local: table(['b1']) });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.kill();
  });

  it(
    'serves local calls while Redis is down and republishes after it returns',
    { timeout: 30_000 },
    async () => {
      await eventually(async () =>
        expect((await b.calls.list()).map((c) => c.id).sort()).toEqual(['a1', 'b1']),
      );
      await redis.kill();
      expect((await b.calls.list()).map((c) => c.id)).toEqual(['b1']);
      expect(await b.calls.get('b1')).toMatchObject({ id: 'b1' });
      expect(await b.calls.get('a1')).toBeUndefined();
      expect(await b.calls.hangup('a1')).toBe(false);

      await redis.start();
      await eventually(async () => {
        expect((await b.calls.list()).map((c) => c.id).sort()).toEqual(['a1', 'b1']);
        // The relay resubscribed too.
        expect(await b.calls.get('a1')).toMatchObject({ id: 'a1', instance: 'A' });
      });
    },
  );
});
