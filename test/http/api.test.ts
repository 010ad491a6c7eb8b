import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SwitchboardError } from '../../src/errors.js';
import { Authenticator } from '../../src/http/auth.js';
import type { CallControl, CallSummary, ProviderCatalog } from '../../src/http/ports.js';
import { createHttpServer } from '../../src/http/server.js';
import { createMetricsRegistry } from '../../src/observability/metrics.js';
import { SipError } from '../../src/sip/signaling.js';
import { CredentialCipher } from '../../src/tenants/crypto.js';
import { FileRecordBackend } from '../../src/tenants/file-backend.js';
import { EncryptedTenantStore } from '../../src/tenants/tenant-store.js';

const ADMIN = 'admin-token-for-tests-0123456789';
const SECRET = 'sk-api-test-SECRET-abcd';

const openaiSchema = z.object({ apiKey: z.string().min(1), url: z.string().url().optional() }).strict();
const catalog: ProviderCatalog = {
  providers: () => [
    {
      slug: 'openai',
      aliases: [],
      displayName: 'OpenAI Realtime',
      credentialFields: [
        { name: 'apiKey', required: true, secret: true },
        { name: 'url', required: false, secret: false },
      ],
    },
  ],
  validateCredential(slug, raw) {
    if (slug !== 'openai') throw new SwitchboardError('AGENT_UNKNOWN_PROVIDER', `unknown provider "${slug}"`);
    const r = openaiSchema.safeParse(raw);
    if (!r.success) {
      throw new SwitchboardError(
        'AGENT_CREDENTIAL_INVALID',
        `${String(r.error.issues[0]?.path[0])}: ${r.error.issues[0]?.message}`,
      );
    }
    return r.data;
  },
};

class FakeCalls implements CallControl {
  calls: CallSummary[] = [
    {
      id: 'c-acme',
      tenant: 'acme',
      direction: 'inbound',
      from: '1',
      to: '2',
      startedAt: 't',
      codec: 'PCMU',
      provider: 'echo',
      state: 'active',
    },
    {
      id: 'c-globex',
      tenant: 'globex',
      direction: 'inbound',
      from: '3',
      to: '4',
      startedAt: 't',
      codec: 'PCMA',
      provider: 'echo',
      state: 'active',
    },
  ];
  hungUp: string[] = [];
  list(): Promise<CallSummary[]> {
    return Promise.resolve(this.calls);
  }
  get(id: string): Promise<CallSummary | undefined> {
    return Promise.resolve(this.calls.find((c) => c.id === id));
  }
  hangup(id: string): Promise<boolean> {
    this.hungUp.push(id);
    return Promise.resolve(true);
  }
  transfer(_id: string, destination: string): Promise<{ ok: boolean; message: string }> {
    return Promise.resolve(
      destination === 'billing'
        ? { ok: true, message: 'transferred' }
        : { ok: false, message: `unknown target "${destination}"` },
    );
  }
  dial(req: { to: string }): Promise<{ id: string }> {
    return req.to === '+15550486'
      ? Promise.reject(new SipError(486, 'Busy Here'))
      : Promise.resolve({ id: 'c-new' });
  }
}

let app: FastifyInstance;
let base: string;
let dir: string;
let store: EncryptedTenantStore;
let backend: FileRecordBackend;
const calls = new FakeCalls();

async function api(
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-api-'));
  backend = new FileRecordBackend(dir);
  store = new EncryptedTenantStore({
    backend,
    cipher: new CredentialCipher(randomBytes(32)),
    logger: pino({ level: 'silent' }),
  });
  app = createHttpServer({
    metrics: createMetricsRegistry(),
    api: {
      auth: new Authenticator(ADMIN, store),
      store,
      catalog,
      calls,
      knownTenants: () => ['acme', 'globex'],
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  base = `http://127.0.0.1:${addr.port}`;
});

afterAll(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

describe('HTTP API', () => {
  it('serves health without auth and requires auth everywhere else', async () => {
    expect((await api('GET', '/healthz')).status).toBe(200);
    expect((await api('GET', '/readyz')).status).toBe(200);
    for (const [m, p] of [
      ['GET', '/metrics'],
      ['GET', '/v1/providers'],
      ['GET', '/v1/tenants'],
      ['GET', '/v1/calls'],
      ['POST', '/v1/calls'],
      ['GET', '/v1/tenants/acme/credentials/openai'],
      ['PUT', '/v1/tenants/acme/credentials/openai'],
      ['DELETE', '/v1/calls/c-acme'],
    ] as const) {
      const r = await api(m, p);
      expect(r.status, `${m} ${p}`).toBe(401);
      expect(r.json.error.code).toBe('HTTP_UNAUTHORIZED');
    }
    expect((await api('GET', '/v1/providers', 'wrong-token-wrong-token')).status).toBe(401);
    expect((await api('GET', '/v1/providers', ADMIN)).json.providers[0].slug).toBe('openai');
  });

  it('stores credentials, masks secrets on read and deletes', async () => {
    const put = await api('PUT', '/v1/tenants/acme/credentials/openai', ADMIN, {
      apiKey: SECRET,
      url: 'wss://mock.example/rt',
    });
    expect(put.status).toBe(204);
    const got = await api('GET', '/v1/tenants/acme/credentials/openai', ADMIN);
    expect(got.status).toBe(200);
    expect(got.json.fields).toEqual({ apiKey: '****abcd', url: 'wss://mock.example/rt' });
    expect(JSON.stringify(got.json)).not.toContain(SECRET);
    expect(got.json.updatedAt).toMatch(/^\d{4}-/);
    const list = await api('GET', '/v1/tenants/acme/credentials', ADMIN);
    expect(list.json.credentials.map((c: { provider: string }) => c.provider)).toEqual(['openai']);
  });

  it('rejects bad bodies with 400 and the zod issue, changing nothing', async () => {
    const r = await api('PUT', '/v1/tenants/acme/credentials/openai', ADMIN, { apiKey: '' });
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe('AGENT_CREDENTIAL_INVALID');
    expect(r.json.error.message).toContain('apiKey');
    expect((await api('GET', '/v1/tenants/acme/credentials/openai', ADMIN)).json.fields.apiKey).toBe(
      '****abcd',
    );
    const dial = await api('POST', '/v1/calls', ADMIN, { tenant: 'acme' });
    expect(dial.status).toBe(400);
    expect(dial.json.error.issues[0].path).toEqual(['to']);
    const badTenant = await api('PUT', '/v1/tenants/Not%20A%20Tenant/credentials/openai', ADMIN, {
      apiKey: 'x',
    });
    expect(badTenant.status).toBe(400);
    const notJson = await fetch(`${base}/v1/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: '{',
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('HTTP_BAD_REQUEST');
  });

  it("isolates tenants: a tenant key cannot read, change, list or hang up another tenant's anything", async () => {
    const created = await api('POST', '/v1/tenants/globex/keys', ADMIN);
    expect(created.status).toBe(201);
    const key = created.json.token as string;
    expect(key).toMatch(/^sbk_/);
    // Only the hash is stored.
    expect(JSON.stringify(await backend.keys(''))).not.toContain(key);

    expect((await api('GET', '/v1/tenants/acme/credentials/openai', key)).status).toBe(404);
    expect((await api('GET', '/v1/tenants/acme/credentials', key)).status).toBe(404);
    expect((await api('PUT', '/v1/tenants/acme/credentials/openai', key, { apiKey: 'stolen' })).status).toBe(
      404,
    );
    expect((await api('DELETE', '/v1/tenants/acme/credentials/openai', key)).status).toBe(404);
    expect((await api('GET', '/v1/calls', key)).json.calls.map((c: CallSummary) => c.id)).toEqual([
      'c-globex',
    ]);
    expect((await api('GET', '/v1/calls/c-acme', key)).status).toBe(404);
    expect((await api('DELETE', '/v1/calls/c-acme', key)).status).toBe(404);
    expect((await api('POST', '/v1/calls/c-acme/transfer', key, { destination: 'billing' })).status).toBe(
      404,
    );
    expect((await api('POST', '/v1/calls', key, { tenant: 'acme', to: '100' })).status).toBe(404);
    expect((await api('GET', '/v1/tenants', key)).json.tenants).toEqual(['globex']);
    expect((await api('POST', '/v1/tenants/acme/keys', key)).status).toBe(403);
    expect(calls.hungUp).toEqual([]);
    expect((await api('GET', '/v1/tenants/acme/credentials/openai', ADMIN)).json.fields.apiKey).toBe(
      '****abcd',
    );

    // Its own tenant works.
    expect(
      (await api('PUT', '/v1/tenants/globex/credentials/openai', key, { apiKey: 'globex-key-9999' })).status,
    ).toBe(204);
    expect((await api('DELETE', '/v1/calls/c-globex', key)).status).toBe(204);
    expect(calls.hungUp).toEqual(['c-globex']);
  });

  it('reports a tampered ciphertext as a clear error without the secret', async () => {
    await api('PUT', '/v1/tenants/acme/credentials/openai', ADMIN, { apiKey: SECRET });
    const raw = JSON.parse((await backend.get('cred:acme:openai'))!) as { tag: string };
    await backend.set(
      'cred:acme:openai',
      JSON.stringify({ ...raw, tag: Buffer.alloc(16).toString('base64') }),
    );
    const r = await api('GET', '/v1/tenants/acme/credentials/openai', ADMIN);
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe('TENANT_CREDENTIAL_TAMPERED');
    expect(JSON.stringify(r.json)).not.toContain(SECRET);
  });

  it('controls calls: transfer, dial failures with the SIP status', async () => {
    expect((await api('POST', '/v1/calls/c-acme/transfer', ADMIN, { destination: 'billing' })).status).toBe(
      200,
    );
    const bad = await api('POST', '/v1/calls/c-acme/transfer', ADMIN, { destination: 'nowhere' });
    expect(bad.status).toBe(409);
    expect((await api('POST', '/v1/calls', ADMIN, { tenant: 'acme', to: '100' })).json).toEqual({
      id: 'c-new',
    });
    const busy = await api('POST', '/v1/calls', ADMIN, { tenant: 'acme', to: '+15550486' });
    expect(busy.status).toBe(502);
    expect(busy.json.error.code).toBe('SIP_486');
    expect((await api('GET', '/v1/calls/none', ADMIN)).status).toBe(404);
    expect((await api('GET', '/v1/nothing-here', ADMIN)).json.error.code).toBe('HTTP_NOT_FOUND');
  });
});
