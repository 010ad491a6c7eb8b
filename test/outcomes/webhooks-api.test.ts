import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

const SECRET_A = 'whsec-a-0123456789abcdef-SECRET';
const SECRET_B = 'whsec-b-fedcba9876543210-SECRET';
const body = (secret: string, url = 'http://127.0.1.40:9/hook'): object => ({
  url,
  secret,
  events: ['call.started', 'call.ended'],
});

describe('event webhooks API (issue 16): CRUD, validation, tenant isolation, secrets', () => {
  let srv: TestServer;
  let keyA: string;
  let keyB: string;
  beforeAll(async () => {
    srv = await startTestServer({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    keyA = (await srv.api('POST', '/v1/tenants/acme/keys')).json.token as string;
    keyB = (await srv.api('POST', '/v1/tenants/globex/keys')).json.token as string;
  });
  afterAll(async () => {
    await srv.close();
  });

  it('creates, replaces, lists, reads and deletes a webhook; the secret is masked in every answer', async () => {
    const created = await srv.api('PUT', '/v1/tenants/acme/webhooks/main', body(SECRET_A), keyA);
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      tenant: 'acme',
      name: 'main',
      url: 'http://127.0.1.40:9/hook',
      events: ['call.started', 'call.ended'],
      secret: `****${SECRET_A.slice(-4)}`,
    });
    const replaced = await srv.api(
      'PUT',
      '/v1/tenants/acme/webhooks/main',
      { ...body(SECRET_A), events: ['call.ended'] },
      keyA,
    );
    expect(replaced.status).toBe(200);
    expect(replaced.json.events).toEqual(['call.ended']);
    expect((await srv.api('PUT', '/v1/tenants/globex/webhooks/main', body(SECRET_B), keyB)).status).toBe(201);

    const listA = await srv.api('GET', '/v1/tenants/acme/webhooks', undefined, keyA);
    expect(listA.status).toBe(200);
    expect(listA.json.webhooks.map((w: { name: string }) => w.name)).toEqual(['main']);
    const one = await srv.api('GET', '/v1/tenants/acme/webhooks/main', undefined, keyA);
    expect(one.status).toBe(200);
    const deliveries = await srv.api('GET', '/v1/tenants/acme/webhooks/main/deliveries', undefined, keyA);
    expect(deliveries).toEqual({ status: 200, json: { deliveries: [] } });
    for (const answer of [created, replaced, listA, one])
      expect(JSON.stringify(answer.json)).not.toContain(SECRET_A.slice(0, 20));

    // At rest the secret is sealed (AES-GCM like credentials): the store file never holds it.
    const file = await readFile(join(srv.dataDir, 'tenants.json'), 'utf8');
    expect(file).toContain('hook:acme:main');
    expect(file).not.toContain(SECRET_A);
    expect(file).not.toContain(SECRET_B);

    expect((await srv.api('DELETE', '/v1/tenants/acme/webhooks/main', undefined, keyA)).status).toBe(204);
    expect((await srv.api('GET', '/v1/tenants/acme/webhooks/main', undefined, keyA)).status).toBe(404);
    expect((await srv.api('DELETE', '/v1/tenants/acme/webhooks/main', undefined, keyA)).status).toBe(404);
    await srv.api('PUT', '/v1/tenants/acme/webhooks/main', body(SECRET_A), keyA);
  });

  it("keeps tenants apart: another tenant's webhooks answer 404 to every verb", async () => {
    const paths = ['/v1/tenants/globex/webhooks', '/v1/tenants/globex/webhooks/main'];
    for (const path of paths) expect((await srv.api('GET', path, undefined, keyA)).status).toBe(404);
    expect(
      (await srv.api('GET', '/v1/tenants/globex/webhooks/main/deliveries', undefined, keyA)).status,
    ).toBe(404);
    expect((await srv.api('PUT', '/v1/tenants/globex/webhooks/main', body(SECRET_A), keyA)).status).toBe(404);
    expect((await srv.api('PUT', '/v1/tenants/globex/webhooks/new', body(SECRET_A), keyA)).status).toBe(404);
    expect((await srv.api('DELETE', '/v1/tenants/globex/webhooks/main', undefined, keyA)).status).toBe(404);
    // B's webhook is untouched: same events, B's secret still in force (masked tail).
    const b = await srv.api('GET', '/v1/tenants/globex/webhooks/main', undefined, keyB);
    expect(b.json).toMatchObject({
      events: ['call.started', 'call.ended'],
      secret: `****${SECRET_B.slice(-4)}`,
    });
    expect((await srv.api('GET', '/v1/tenants/globex/webhooks', undefined, 'sbk_nope')).status).toBe(401);
  });

  it('answers 400 with the zod issue for bad bodies and names', async () => {
    const cases: Array<[unknown, string]> = [
      [{ url: 'http://127.0.1.40:9/', events: ['call.ended'] }, 'secret'],
      [{ ...body(SECRET_A), events: ['call.nope'] }, 'events'],
      [{ ...body(SECRET_A), events: [] }, 'events'],
      [{ ...body(SECRET_A), events: ['call.ended', 'call.ended'] }, 'events'],
      [{ ...body('short') }, 'secret'],
      [{ ...body(SECRET_A), url: 'not a url' }, 'url'],
      [{ ...body(SECRET_A), extra: 1 }, ''],
      [[1, 2], ''],
    ];
    for (const [input, field] of cases) {
      const res = await srv.api('PUT', '/v1/tenants/acme/webhooks/other', input, keyA);
      expect(res.status, JSON.stringify(input)).toBe(400);
      expect(res.json.error.code).toBe('HTTP_BAD_REQUEST');
      expect(res.json.error.issues.length).toBeGreaterThan(0);
      if (field !== '') expect(res.json.error.issues[0].path).toContain(field);
    }
    expect((await srv.api('PUT', '/v1/tenants/acme/webhooks/Bad%20Name', body(SECRET_A), keyA)).status).toBe(
      400,
    );
    const raw = await fetch(`${srv.baseUrl}/v1/tenants/acme/webhooks/other`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${keyA}`, 'content-type': 'application/json' },
      body: '{"url":',
    });
    expect(raw.status).toBe(400);
    const query = await srv.api('GET', '/v1/tenants/acme/webhooks/main/deliveries?limit=0', undefined, keyA);
    expect(query.status).toBe(400);
    // A URL that is not http(s) is refused by the delivery policy: 422.
    const ftp = await srv.api(
      'PUT',
      '/v1/tenants/acme/webhooks/other',
      body(SECRET_A, 'ftp://127.0.1.40/x'),
      keyA,
    );
    expect(ftp.status).toBe(422);
    expect(ftp.json.error.message).toMatch(/http\(s\)/);
    const userinfo = await srv.api(
      'PUT',
      '/v1/tenants/acme/webhooks/other',
      body(SECRET_A, 'http://u:p@127.0.1.40/x'),
      keyA,
    );
    expect(userinfo.status).toBe(422);
  });

  it('never writes a secret to the log', () => {
    const logs = srv.logs.join('');
    expect(logs).toContain('switchboard listening');
    expect(logs).not.toContain(SECRET_A);
    expect(logs).not.toContain(SECRET_B);
  });
});

describe('event webhook URLs without WEBHOOK_ALLOW_PRIVATE (SSRF rules)', () => {
  it('refuses loopback, private, metadata and IPv4-mapped receivers with 422', async () => {
    const srv = await startTestServer();
    try {
      const key = (await srv.api('POST', '/v1/tenants/acme/keys')).json.token as string;
      for (const url of [
        'http://127.0.0.1:8080/hook',
        'http://10.1.2.3/hook',
        'http://169.254.169.254/latest/meta-data',
        'http://[::ffff:127.0.0.1]/hook',
        'https://localhost/hook',
      ]) {
        const res = await srv.api('PUT', '/v1/tenants/acme/webhooks/main', body(SECRET_A, url), key);
        expect(res.status, url).toBe(422);
        expect(res.json.error.code).toBe('HTTP_WEBHOOK_URL_FORBIDDEN');
      }
      expect((await srv.api('GET', '/v1/tenants/acme/webhooks', undefined, key)).json.webhooks).toEqual([]);
    } finally {
      await srv.close();
    }
  });
});
