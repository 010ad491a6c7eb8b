/**
 * Issue 12 end to end: two Switchboard instances (the production wiring, startTestServer) behind the real
 * Redis on 127.0.0.1:6379 under a unique key prefix, one sipp call on each. Instance B dies abruptly
 * (`close({ abrupt: true })`: its heartbeat stops and its Redis connections drop, nothing is removed); then
 * through A's API: B's call is listed `lost` within the heartbeat TTL, GET/DELETE/transfer of it answer 410
 * with a clear error (bounded well below the relay timeout), another tenant still gets 404, A's own call is
 * untouched and ends normally. A's /metrics lines all carry instance="<A's id>".
 * Addresses: sipp 127.0.0.62:49610 (RTP 49612) calls B, 127.0.0.63:49620 (RTP 49622) calls A.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { clearRedisPrefix } from '../support/redis-keys.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { describeSipp, startSipp, type SippProcess } from '../support/sipp.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const DIALPLANS = {
  'demo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo }\n',
  'other.yaml': 'tenant: other\nnumbers: ["999"]\nagent: { provider: echo }\n',
};
const HEARTBEAT_MS = 250;
const INSTANCE_TTL_MS = 1000;
/** A request waiting for a relay reply would take this long: every bounded wait below is far shorter. */
const RELAY_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 5000;

interface Listed {
  id: string;
  tenant: string;
  instance: string;
  state: string;
}

/** An API request that fails the test instead of waiting for a relay timeout. */
async function api(
  srv: TestServer,
  method: string,
  path: string,
  body?: unknown,
  token = srv.adminToken,
): Promise<{ status: number; json: any }> {
  const res = await fetch(srv.baseUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

describe('an instance dies abruptly', () => {
  const prefix = `sbtest:death:${randomBytes(4).toString('hex')}:`;
  const env = {
    REDIS_URL,
    MASTER_KEY: randomBytes(32).toString('base64'),
    CLUSTER_HEARTBEAT_MS: String(HEARTBEAT_MS),
    CLUSTER_INSTANCE_TTL_MS: String(INSTANCE_TTL_MS),
    CLUSTER_LOST_RETENTION_MS: '60000',
    CLUSTER_RELAY_TIMEOUT_MS: String(RELAY_TIMEOUT_MS),
  };
  let a: TestServer;
  let b: TestServer;
  let bDead = false;
  const peers: SippProcess[] = [];

  beforeAll(async () => {
    const start = (id: string): Promise<TestServer> =>
      startTestServer({
        dialplans: DIALPLANS,
        env: { ...env, INSTANCE_ID: id },
        redisKeyPrefix: prefix,
        logLevel: 'info',
      });
    a = await start('node-a');
    b = await start('node-b');
  });
  afterAll(async () => {
    for (const p of peers) p.kill();
    await a?.close();
    if (!bDead) await b?.close();
    await clearRedisPrefix(REDIS_URL, prefix);
  });

  it(
    "lists B's call as lost, answers 410 for it at once, and leaves A's call alone",
    { timeout: 60_000 },
    async () => {
      const otherKey = await a.api('POST', '/v1/tenants/other/keys');
      expect(otherKey.status).toBe(201);
      // sipp's built-in uac: INVITE, ACK, a pause of `durationMs`, then its own BYE.
      const call = (srv: TestServer, localIp: string, port: number, durationMs: number): SippProcess =>
        startSipp({
          scenario: { builtin: 'uac' },
          target: `127.0.0.1:${srv.sipPort}`,
          localIp,
          localPort: port,
          mediaPort: port + 2,
          service: '100',
          durationMs,
          timeoutMs: durationMs + 15_000,
        });
      const callToB = call(b, '127.0.0.62', 49610, 40_000);
      const callToA = call(a, '127.0.0.63', 49620, 12_000);
      peers.push(callToB, callToA);

      // Both calls are up and A lists both: its own and B's, each with its owner (ids start with INSTANCE_ID).
      let callOfA!: Listed;
      let callOfB!: Listed;
      await eventually(async () => {
        const calls = (await api(a, 'GET', '/v1/calls')).json.calls as Listed[];
        expect(calls).toHaveLength(2);
        callOfA = calls.find((c) => c.instance.startsWith('node-a:'))!;
        callOfB = calls.find((c) => c.instance.startsWith('node-b:'))!;
        expect(callOfA).toMatchObject({ tenant: 'demo', state: 'active' });
        expect(callOfB).toMatchObject({ tenant: 'demo', state: 'active' });
      }, 15_000);
      const aId = callOfA.instance;
      const bId = callOfB.instance;

      await b.close({ abrupt: true });
      bDead = true;

      // Within the TTL (1 s; polled up to 10 s for a loaded machine) B's call is listed lost, A's is not.
      await eventually(async () => {
        const calls = (await api(a, 'GET', '/v1/calls')).json.calls as Listed[];
        expect(calls.find((c) => c.id === callOfB.id)).toMatchObject({ instance: bId, state: 'lost' });
      }, 10_000);
      const redis = new Redis(REDIS_URL);
      try {
        expect(await redis.exists(`${prefix}instance:${bId}`)).toBe(0);
        expect(await redis.exists(`${prefix}call:${callOfB.id}`)).toBe(1);
      } finally {
        await redis.quit();
      }

      const del = await api(a, 'DELETE', `/v1/calls/${callOfB.id}`);
      expect(del.status).toBe(410);
      expect(del.json.error).toMatchObject({ code: 'HTTP_CALL_LOST' });
      expect(del.json.error.message).toContain(bId);
      expect((await api(a, 'GET', `/v1/calls/${callOfB.id}`)).status).toBe(410);
      const transfer = await api(a, 'POST', `/v1/calls/${callOfB.id}/transfer`, { destination: 'sales' });
      expect(transfer.status).toBe(410);
      // Another tenant learns nothing about the call id.
      const foreign = await api(a, 'GET', `/v1/calls/${callOfB.id}`, undefined, String(otherKey.json.token));
      expect(foreign.status).toBe(404);

      // A's call is untouched: still active, readable, and it ends normally with sipp's own BYE.
      const mine = await api(a, 'GET', `/v1/calls/${callOfA.id}`);
      expect(mine.status).toBe(200);
      expect(mine.json).toMatchObject({ state: 'active', instance: aId });
      const r = await callToA.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);

      // A's janitor counted the lost call; every metric line names instance A.
      const res = await fetch(`${a.baseUrl}/metrics`, {
        headers: { authorization: `Bearer ${a.adminToken}` },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const samples = (await res.text()).split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      expect(samples.length).toBeGreaterThan(5);
      const label = `instance="${aId}"`;
      expect(samples.filter((l) => !l.includes(label))).toEqual([]);
      expect(samples).toContain(`switchboard_cluster_lost_calls_total{${label}} 1`);
    },
  );
});
