/**
 * Issue 11, tenant API keys over HTTP against the production wiring: a flood of unknown `Bearer sbk_…`
 * tokens leaves the key cache bounded; a tenant is rate limited (429 + Retry-After) without affecting another
 * tenant or the admin; a key deleted on one instance is refused by a second instance sharing Redis (through
 * pub/sub, with a cache TTL far longer than the test); and while Redis is unreachable a cached key stops
 * working once its short TTL runs out instead of living forever.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { PrivateRedis, sparePort } from '../support/redis-server.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DIALPLANS = {
  'acme.yaml': 'tenant: acme\nnumbers: ["100"]\nagent: { provider: echo }\n',
  'globex.yaml': 'tenant: globex\nnumbers: ["200"]\nagent: { provider: echo }\n',
};
const MASTER_KEY = randomBytes(32).toString('base64');

async function newKey(srv: TestServer, tenant: string): Promise<{ id: string; token: string }> {
  const r = await srv.api('POST', `/v1/tenants/${tenant}/keys`);
  expect(r.status).toBe(201);
  return { id: r.json.id as string, token: r.json.token as string };
}

async function metric(srv: TestServer, name: string): Promise<number> {
  const res = await fetch(`${srv.baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${srv.adminToken}` },
  });
  // Every series carries the instance label (issue 12).
  const m = new RegExp(`^${name}\\{instance="[^"]+"\\} (\\d+)`, 'm').exec(await res.text());
  return Number(m?.[1] ?? NaN);
}

/** A route that needs nothing but authentication (no store access of its own). */
const status = async (srv: TestServer, token: string): Promise<number> =>
  (await srv.api('GET', '/v1/providers', undefined, token)).status;

/** Occurrences of `needle` in `text` that end past `from` (a match split across two chunks counts once). */
function countEndingAfter(text: string, needle: string, from: number): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + 1)) {
    if (i + needle.length > from) n++;
  }
  return n;
}

/**
 * Sends `total` GETs with fresh well-formed unknown tenant tokens, HTTP/1.1-pipelined over a few raw
 * sockets (fetch's per-request cost in this same process would dominate), and counts the 401 answers.
 */
async function floodUnknownTokens(port: number, total: number, sockets = 4, batch = 250): Promise<number> {
  let sent = 0;
  let unauthorized = 0;
  const one = async (): Promise<void> => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    let tail = '';
    let answered = 0;
    let waiting: (() => void) | undefined;
    socket.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('latin1');
      answered += countEndingAfter(text, 'HTTP/1.1 ', tail.length);
      unauthorized += countEndingAfter(text, 'HTTP/1.1 401 ', tail.length);
      tail = text.slice(-12);
      waiting?.();
    });
    let expected = 0;
    while (sent < total) {
      const n = Math.min(batch, total - sent);
      sent += n;
      let requests = '';
      for (let i = 0; i < n; i++) {
        const token = `sbk_${randomBytes(6).toString('hex')}_${randomBytes(24).toString('base64url')}`;
        requests += `GET /v1/providers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`;
      }
      expected += n;
      socket.write(requests);
      while (answered < expected) await new Promise<void>((r) => (waiting = r));
    }
    socket.destroy();
  };
  await Promise.all(Array.from({ length: sockets }, one));
  return unauthorized;
}

describe('tenant API keys', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  it('keeps the key cache bounded under 100 000 unknown tokens (and the real key still works)', async () => {
    const srv = await startTestServer({ dialplans: DIALPLANS, logLevel: 'warn' });
    servers.push(srv);
    const acme = await newKey(srv, 'acme');
    const TOTAL = 100_000;
    const unauthorized = await floodUnknownTokens(srv.httpPort, TOTAL);
    const cached = await metric(srv, 'switchboard_api_key_cache_entries');
    console.log(`100k unknown tokens: ${unauthorized} answered 401, key cache ${cached} entries`);
    expect(unauthorized).toBe(TOTAL);
    expect(cached).toBeLessThanOrEqual(10_000);
    expect(await status(srv, acme.token)).toBe(200);
  }, 300_000);

  it('rate limits one tenant with 429 and Retry-After; other tenants and the admin are unaffected', async () => {
    const srv = await startTestServer({
      dialplans: DIALPLANS,
      logLevel: 'warn',
      // 5 at once, then one every 100 s: nothing refills while the test runs.
      env: { API_TENANT_BURST: '5', API_TENANT_RATE_PER_S: '0.01' },
    });
    servers.push(srv);
    const acme = await newKey(srv, 'acme');
    const globex = await newKey(srv, 'globex');
    const answers: Array<{ status: number; retryAfter: string | null }> = [];
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${srv.baseUrl}/v1/tenants`, {
        headers: { authorization: `Bearer ${acme.token}` },
      });
      await res.arrayBuffer();
      answers.push({ status: res.status, retryAfter: res.headers.get('retry-after') });
    }
    expect(answers.slice(0, 5).map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    for (const a of answers.slice(5)) {
      expect(a.status).toBe(429);
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    expect(await status(srv, globex.token)).toBe(200);
    for (let i = 0; i < 10; i++) expect(await status(srv, srv.adminToken)).toBe(200);
    expect(await metric(srv, 'switchboard_api_rate_limited_total')).toBe(7);
  });

  it('refuses a key deleted on instance A at instance B (shared Redis), long before B’s cache would expire', async () => {
    const prefix = `sbtest:revoke:${randomBytes(4).toString('hex')}:`;
    // A 10-minute positive TTL: only the revocation message can make B refuse the key within the test.
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', MASTER_KEY, API_KEY_CACHE_TTL_MS: '600000' };
    const a = await startTestServer({ dialplans: DIALPLANS, env, redisKeyPrefix: prefix, logLevel: 'warn' });
    servers.push(a);
    const b = await startTestServer({ dialplans: DIALPLANS, env, redisKeyPrefix: prefix, logLevel: 'warn' });
    servers.push(b);
    const acme = await newKey(a, 'acme');
    const other = await newKey(a, 'acme');
    expect(await status(b, acme.token)).toBe(200); // now cached on B
    expect(await status(b, other.token)).toBe(200);
    expect((await a.api('DELETE', `/v1/tenants/acme/keys/${acme.id}`)).status).toBe(204);
    await eventually(async () => expect(await status(b, acme.token)).toBe(401), 10_000);
    expect(await status(a, acme.token)).toBe(401);
    expect(await status(b, other.token)).toBe(200); // only that key
  });

  it('stops trusting a cached key once its TTL runs out while Redis is unreachable', async () => {
    const redis = new PrivateRedis(await sparePort());
    await redis.start();
    try {
      const env = { REDIS_URL: redis.url, MASTER_KEY, API_KEY_CACHE_TTL_MS: '1000' };
      const srv = await startTestServer({ dialplans: DIALPLANS, env, logLevel: 'error' });
      servers.push(srv);
      const acme = await newKey(srv, 'acme');
      expect(await status(srv, acme.token)).toBe(200);
      await redis.kill();
      // Before issue 11 the last known record answered 200 for as long as Redis stayed away.
      await eventually(async () => expect(await status(srv, acme.token)).toBe(503), 15_000);
      expect(await status(srv, srv.adminToken)).toBe(200); // the admin token needs no store
    } finally {
      await redis.kill();
    }
  });
});
