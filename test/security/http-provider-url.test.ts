/**
 * Issue 11, control plane over HTTP against the production wiring: a tenant key cannot point its provider
 * at loopback/private/metadata addresses or plain ws:// (blind SSRF, API key in clear), cannot write the
 * operator's sip-trunk, and cannot read /metrics. Refused writes change nothing.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

const PUBLIC_IP = '93.184.215.14';
const METRICS_TOKEN = `metrics-${randomBytes(12).toString('hex')}`;
const DIALPLANS = {
  'acme.yaml': 'tenant: acme\nnumbers: ["100"]\nagent: { provider: echo }\n',
  'globex.yaml': 'tenant: globex\nnumbers: ["200"]\nagent: { provider: echo }\n',
};

describe('provider endpoints, sip-trunk and /metrics under a tenant key', () => {
  let srv: TestServer;
  let acme: string;
  const put = (tenant: string, provider: string, body: unknown, token?: string) =>
    srv.api('PUT', `/v1/tenants/${tenant}/credentials/${provider}`, body, token);

  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: DIALPLANS,
      logLevel: 'warn',
      env: {
        // Even allowlisted, loopback and `localhost` stay forbidden for tenants.
        PROVIDER_URL_ALLOW: `127.0.0.1,127.0.0.1:9000,localhost,${PUBLIC_IP}`,
        METRICS_TOKEN,
      },
    });
    const key = await srv.api('POST', '/v1/tenants/acme/keys');
    expect(key.status).toBe(201);
    acme = key.json.token as string;
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('refuses ws://, loopback, private, metadata and unlisted hosts with 422, and keeps the stored url', async () => {
    expect(
      (await put('acme', 'openai', { apiKey: 'sk-original', url: `wss://${PUBLIC_IP}/v1/realtime` }, acme))
        .status,
    ).toBe(204);
    const attempts = [
      'ws://127.0.0.1:9000/v1/realtime',
      'wss://127.0.0.1/v1/realtime',
      'wss://127.0.0.1:9000/v1/realtime',
      'wss://localhost/v1/realtime',
      'wss://[::1]/v1/realtime',
      'wss://[::ffff:127.0.0.1]/v1/realtime',
      'wss://169.254.169.254/latest/meta-data',
      'wss://10.0.0.1/v1/realtime',
      'wss://evil.example.org/v1/realtime',
      `ws://${PUBLIC_IP}/v1/realtime`,
    ];
    for (const url of attempts) {
      const r = await put('acme', 'openai', { apiKey: 'sk-hijack', url }, acme);
      expect(r.status, url).toBe(422);
      expect(r.json.error.code, url).toBe('HTTP_PROVIDER_URL_FORBIDDEN');
      expect(JSON.stringify(r.json), url).not.toContain('sk-hijack');
    }
    const stored = await srv.server.store.getCredential('acme', 'openai');
    expect(stored?.fields).toEqual({ apiKey: 'sk-original', url: `wss://${PUBLIC_IP}/v1/realtime` });
  });

  it('lets the admin token set any url (operators run mocks and proxies)', async () => {
    expect(
      (await put('acme', 'openai', { apiKey: 'sk-admin', url: 'ws://127.0.0.1:9000/v1/realtime' })).status,
    ).toBe(204);
    expect((await srv.server.store.getCredential('acme', 'openai'))?.fields.url).toBe(
      'ws://127.0.0.1:9000/v1/realtime',
    );
  });

  it('keeps sip-trunk admin-written: tenant PUT and DELETE are 403, the tenant reads it masked', async () => {
    const trunk = { uri: 'sip:trunk.operator.example:5060', username: 'op-user', password: 'op-secret-pw' };
    expect((await put('acme', 'sip-trunk', trunk)).status).toBe(204);
    const hijack = await put('acme', 'sip-trunk', { uri: 'sip:attacker.example' }, acme);
    expect(hijack.status).toBe(403);
    expect(hijack.json.error.code).toBe('HTTP_FORBIDDEN');
    expect((await srv.api('DELETE', '/v1/tenants/acme/credentials/sip-trunk', undefined, acme)).status).toBe(
      403,
    );
    const read = await srv.api('GET', '/v1/tenants/acme/credentials/sip-trunk', undefined, acme);
    expect(read.status).toBe(200);
    for (const v of Object.values(read.json.fields as Record<string, string>)) expect(v).toMatch(/^\*{4}/);
    expect(JSON.stringify(read.json)).not.toMatch(/op-user|op-secret-pw|trunk\.operator/);
    expect((await srv.server.store.getCredential('acme', 'sip-trunk'))?.fields).toEqual(trunk);
    // The admin still sees the non-secret fields.
    const admin = await srv.api('GET', '/v1/tenants/acme/credentials/sip-trunk');
    expect(admin.json.fields).toMatchObject({ uri: trunk.uri, username: 'op-user' });
  });

  it('serves /metrics to the admin token and METRICS_TOKEN only', async () => {
    const get = (token?: string) =>
      fetch(
        `${srv.baseUrl}/metrics`,
        token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
      );
    expect((await get()).status).toBe(401);
    expect((await get(acme)).status).toBe(403);
    expect((await get('sbk_000000000000_notarealkeynotarealkeynotarealke')).status).toBe(401);
    expect((await get(srv.adminToken)).status).toBe(200);
    const scraped = await get(METRICS_TOKEN);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('switchboard_api_key_cache_entries');
    // The metrics token is for scraping only, not the API.
    expect((await srv.api('GET', '/v1/tenants', undefined, METRICS_TOKEN)).status).toBe(401);
  });
});
