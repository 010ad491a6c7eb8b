/**
 * Two Switchboard instances behind one Redis (issue 6): a call placed to instance A is listed, read and
 * hung up through instance B's API; and Redis dying mid-call does not disturb the call, while the tenant
 * store recovers once Redis is back. Softphone RTP ports 44600–44799.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmsDbfs } from '../../src/media/dsp/level.js';
import { Softphone } from '../../src/softphone/softphone.js';
import { PrivateRedis, sparePort } from '../support/redis-server.js';
import { eventually } from '../support/eventually.js';
import { expectNoSecretsIn } from '../support/secrets.js';
import { allServerLogs, startTestServer, type TestServer } from '../support/server.js';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/audio/${name}`, import.meta.url));
const DIALPLAN = {
  'demo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, tools: { end_call: {} } }\n',
};
const MASTER_KEY = randomBytes(32).toString('base64');
const TRUNK_PASSWORD = `trunk-pw-${randomBytes(8).toString('hex')}`;
/** Everything that must never reach a log line. */
const secrets: string[] = [MASTER_KEY, TRUNK_PASSWORD];

/** A promise plus its resolver (Node 20 has no Promise.withResolvers). */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('several instances sharing Redis', () => {
  const prefix = `sbtest:e2e:${randomBytes(4).toString('hex')}:`;
  const env = { REDIS_URL: 'redis://127.0.0.1:6379', MASTER_KEY };
  let a: TestServer;
  let b: TestServer;
  let phone: Softphone;

  beforeAll(async () => {
    a = await startTestServer({ dialplans: DIALPLAN, env, redisKeyPrefix: prefix });
    b = await startTestServer({ dialplans: DIALPLAN, env, redisKeyPrefix: prefix });
    secrets.push(a.adminToken, b.adminToken);
    phone = new Softphone({ logger: pino({ level: 'silent' }), rtpPortMin: 44600, rtpPortMax: 44699 });
    await phone.start();
  });
  afterAll(async () => {
    await phone?.close();
    await a?.close();
    await b?.close();
    const redis = new Redis('redis://127.0.0.1:6379');
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it(
    'lists a call of instance A through instance B and hangs it up from there',
    { timeout: 30_000 },
    async () => {
      // A tenant key created on B works on A (one store), and sees only its tenant's calls.
      const key = await b.api('POST', '/v1/tenants/demo/keys');
      expect(key.status).toBe(201);
      const tenantToken = String(key.json.token);
      secrets.push(tenantToken);
      const trunk = await a.api('PUT', '/v1/tenants/demo/credentials/sip-trunk', {
        uri: 'sip:trunk.invalid',
        username: 'u',
        password: TRUNK_PASSWORD,
      });
      expect(trunk.status).toBeLessThan(300);

      const established = signal();
      const result = phone.call(a.uri('100'), {
        playPath: fixture('caller-billing-question.wav'),
        durationMs: 20_000,
        onEstablished: () => established.resolve(),
      });
      await established.promise;
      const bInstance = (await b.api('GET', '/v1/calls')).json.calls as Array<{ instance?: string }>;
      const listed = await eventually(async () => {
        const r = await b.api('GET', '/v1/calls', undefined, tenantToken);
        expect(r.status).toBe(200);
        const calls = r.json.calls as Array<{
          id: string;
          tenant: string;
          instance: string;
          direction: string;
        }>;
        expect(calls).toHaveLength(1);
        return calls[0]!;
      });
      expect(bInstance).toHaveLength(0);
      expect(listed).toMatchObject({ tenant: 'demo', direction: 'inbound' });
      const local = (await a.api('GET', '/v1/calls')).json.calls as Array<{ id: string; instance: string }>;
      expect(local.map((c) => c.id)).toContain(listed.id);
      expect(listed.instance).toBe(local.find((c) => c.id === listed.id)?.instance);

      const got = await b.api('GET', `/v1/calls/${listed.id}`);
      expect(got.status).toBe(200);
      expect(got.json).toMatchObject({ id: listed.id, tenant: 'demo', instance: listed.instance });

      const del = await b.api('DELETE', `/v1/calls/${listed.id}`, undefined, tenantToken);
      expect(del.status).toBe(204);
      const r = await result;
      expect(r.endedBy).toBe('remote');
      await eventually(async () => {
        expect((await b.api('GET', '/v1/calls')).json.calls).toHaveLength(0);
        // Issue 16: an ended call is its record in the shared call history (written by instance A).
        const ended = await b.api('GET', `/v1/calls/${listed.id}`);
        expect(ended.status).toBe(200);
        expect(ended.json).toMatchObject({ id: listed.id, state: 'ended', endReason: 'api-hangup' });
      });
    },
  );

  it('runs last: no token, key or password in any log line', () => {
    expectNoSecretsIn(allServerLogs, secrets);
  });
});

describe('Redis dies mid-call', () => {
  let redis: PrivateRedis;
  let srv: TestServer;
  let phone: Softphone;

  beforeAll(async () => {
    redis = new PrivateRedis(await sparePort());
    await redis.start();
    srv = await startTestServer({
      dialplans: DIALPLAN,
      env: { REDIS_URL: redis.url, MASTER_KEY },
      logLevel: 'info',
    });
    secrets.push(srv.adminToken);
    phone = new Softphone({ logger: pino({ level: 'silent' }), rtpPortMin: 44700, rtpPortMax: 44799 });
    await phone.start();
  });
  afterAll(async () => {
    await phone?.close();
    await srv?.close();
    await redis?.kill();
  });

  it(
    'the call goes on to its end, local calls still answer, and the store recovers',
    { timeout: 40_000 },
    async () => {
      const put = await srv.api('PUT', '/v1/tenants/demo/credentials/sip-trunk', { uri: 'sip:t.invalid' });
      expect(put.status).toBeLessThan(300);
      const established = signal();
      const call = phone.call(srv.uri('100'), {
        playPath: fixture('caller-billing-question.wav'),
        durationMs: 11_000,
        onEstablished: () => established.resolve(),
      });
      await established.promise;
      await new Promise((r) => setTimeout(r, 500));
      await redis.kill();

      // The API still lists and reads the local call without Redis.
      const listed = await srv.api('GET', '/v1/calls');
      expect(listed.status).toBe(200);
      expect(listed.json.calls).toHaveLength(1);
      expect((await srv.api('GET', `/v1/calls/${listed.json.calls[0].id}`)).status).toBe(200);
      const failedWrite = await srv.api('PUT', '/v1/tenants/demo/credentials/sip-trunk', {
        uri: 'sip:x.invalid',
      });
      expect(failedWrite.status).toBe(503);

      // The caller still hears the echo of what it said after the kill, and hangs up itself at the end.
      const result = await call;
      expect(result.endedBy).toBe('local');
      const ms = (t: number): number => Math.round((t * result.sampleRateHz) / 1000);
      expect(rmsDbfs(result.received, ms(5500), ms(9500))).toBeGreaterThan(-35);
      expect(srv.logs.some((l) => l.includes('call session failed'))).toBe(false);

      await redis.start();
      await eventually(async () => {
        const again = await srv.api('PUT', '/v1/tenants/demo/credentials/sip-trunk', {
          uri: 'sip:y.invalid',
        });
        expect(again.status).toBeLessThan(300);
      }, 15_000);
      const read = await srv.api('GET', '/v1/tenants/demo/credentials/sip-trunk');
      expect(read.json).toMatchObject({ fields: { uri: 'sip:y.invalid' } });
    },
  );

  it('runs last: no token, key or password in any log line', () => {
    expectNoSecretsIn(allServerLogs, secrets);
  });
});
