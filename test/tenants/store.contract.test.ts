import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CredentialCipher, keyId } from '../../src/tenants/crypto.js';
import { FileRecordBackend } from '../../src/tenants/file-backend.js';
import type { RecordBackend } from '../../src/tenants/record-backend.js';
import { RedisRecordBackend } from '../../src/tenants/redis-backend.js';
import { EncryptedTenantStore } from '../../src/tenants/tenant-store.js';

const logger = pino({ level: 'silent' });
const SECRET = 'sk-contract-SECRET-0123456789';

interface Harness {
  backend: RecordBackend;
  /** Read a raw stored value (to check nothing is plaintext and to tamper). */
  raw(key: string): Promise<string | undefined>;
  rawSet(key: string, value: string): Promise<void>;
  cleanup(): Promise<void>;
}

const redisUrl = 'redis://127.0.0.1:6379';

const harnesses: Array<[string, () => Promise<Harness>]> = [
  [
    'file',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sb-store-'));
      const backend = new FileRecordBackend(dir);
      return {
        backend,
        raw: (k) => backend.get(k),
        rawSet: (k, v) => backend.set(k, v),
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
  [
    'redis',
    async () => {
      const prefix = `sbtest:${randomBytes(4).toString('hex')}:`;
      const backend = new RedisRecordBackend({ url: redisUrl, logger, keyPrefix: prefix });
      await backend.ready();
      return {
        backend,
        raw: (k) => backend.get(k),
        rawSet: (k, v) => backend.set(k, v),
        cleanup: async () => {
          const keys = await backend.client.keys(`${prefix}*`);
          if (keys.length > 0) await backend.client.del(...keys);
          await backend.close();
        },
      };
    },
  ],
];

describe.each(harnesses)('TenantStore contract (%s)', (_name, make) => {
  let h: Harness;
  let store: EncryptedTenantStore;
  const key = randomBytes(32);

  beforeEach(async () => {
    h = await make();
    store = new EncryptedTenantStore({ backend: h.backend, cipher: new CredentialCipher(key), logger });
  });
  afterEach(async () => {
    await h.cleanup();
  });

  /** A store mid-rotation (new current key, the old one decrypt-only) and one holding only the new key. */
  const rotated = (): { newKey: Buffer; rotating: EncryptedTenantStore; after: EncryptedTenantStore } => {
    const newKey = randomBytes(32);
    const store = (cipher: CredentialCipher): EncryptedTenantStore =>
      new EncryptedTenantStore({ backend: h.backend, cipher, logger });
    return {
      newKey,
      rotating: store(new CredentialCipher(newKey, [key])),
      after: store(new CredentialCipher(newKey)),
    };
  };

  it('compare-and-set writes only over the value it expects (absent included)', async () => {
    expect(await h.backend.compareAndSet('cas:k', undefined, 'one')).toBe(true);
    expect(await h.backend.compareAndSet('cas:k', undefined, 'two')).toBe(false);
    expect(await h.backend.compareAndSet('cas:k', 'stale', 'two')).toBe(false);
    expect(await h.backend.get('cas:k')).toBe('one');
    expect(await h.backend.compareAndSet('cas:k', 'one', 'two')).toBe(true);
    expect(await h.backend.get('cas:k')).toBe('two');
    // Concurrent writers from one read: exactly one wins.
    const wins = await Promise.all(
      ['a', 'b', 'c', 'd'].map((v) => h.backend.compareAndSet('cas:k', 'two', v)),
    );
    expect(wins.filter(Boolean)).toHaveLength(1);
  });

  it('finds an API key by its hash until it is deleted; unknown hashes are simply absent', async () => {
    for (let i = 0; i < 50; i++) expect(await store.findApiKey(`${i}`.padStart(64, '0'))).toBeUndefined();
    await store.putApiKey('acme', 'k1', 'f'.repeat(64));
    expect(await store.findApiKey('f'.repeat(64))).toMatchObject({ tenant: 'acme', id: 'k1' });
    expect(await store.deleteApiKey('acme', 'k1')).toBe(true);
    expect(await store.findApiKey('f'.repeat(64))).toBeUndefined();
  });

  it('round-trips a credential and never stores plaintext', async () => {
    await store.putCredential('acme', 'openai', { apiKey: SECRET, url: 'wss://x.example/realtime' });
    const got = await store.getCredential('acme', 'openai');
    expect(got?.fields).toEqual({ apiKey: SECRET, url: 'wss://x.example/realtime' });
    expect(got?.updatedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const raw = await h.raw('cred:acme:openai');
    expect(raw).toBeDefined();
    expect(raw).not.toContain(SECRET);
    expect(raw).not.toContain('wss://x.example');
  });

  it('returns undefined for missing credentials and isolates tenants', async () => {
    await store.putCredential('acme', 'openai', { apiKey: SECRET });
    expect(await store.getCredential('globex', 'openai')).toBeUndefined();
    expect(await store.getCredential('acme', 'gemini')).toBeUndefined();
    expect(await store.listCredentials('globex')).toEqual([]);
  });

  it('lists, overwrites and deletes', async () => {
    await store.putCredential('acme', 'openai', { apiKey: 'a' });
    await store.putCredential('acme', 'gemini', { apiKey: 'b' });
    await store.putCredential('globex', 'openai', { apiKey: 'c' });
    await store.putCredential('acme', 'openai', { apiKey: 'a2' });
    expect((await store.listCredentials('acme')).map((c) => c.provider)).toEqual(['gemini', 'openai']);
    expect(await store.listTenants()).toEqual(['acme', 'globex']);
    expect((await store.getCredential('acme', 'openai'))?.fields).toEqual({ apiKey: 'a2' });
    expect(await store.deleteCredential('acme', 'openai')).toBe(true);
    expect(await store.deleteCredential('acme', 'openai')).toBe(false);
    expect(await store.getCredential('acme', 'openai')).toBeUndefined();
  });

  it('detects tampered ciphertext and never returns it', async () => {
    await store.putCredential('acme', 'openai', { apiKey: SECRET });
    const raw = JSON.parse((await h.raw('cred:acme:openai'))!) as { ct: string };
    const ct = Buffer.from(raw.ct, 'base64');
    ct[0] = ct[0]! ^ 0x01;
    await h.rawSet('cred:acme:openai', JSON.stringify({ ...raw, ct: ct.toString('base64') }));
    await expect(store.getCredential('acme', 'openai')).rejects.toMatchObject({
      code: 'TENANT_CREDENTIAL_TAMPERED',
    });
    await h.rawSet('cred:acme:openai', 'not json');
    await expect(store.getCredential('acme', 'openai')).rejects.toMatchObject({
      code: 'TENANT_CREDENTIAL_TAMPERED',
    });
  });

  it('rejects a ciphertext moved to another tenant slot', async () => {
    await store.putCredential('acme', 'openai', { apiKey: SECRET });
    await h.rawSet('cred:globex:openai', (await h.raw('cred:acme:openai'))!);
    await expect(store.getCredential('globex', 'openai')).rejects.toMatchObject({
      code: 'TENANT_CREDENTIAL_TAMPERED',
    });
  });

  it('re-encrypts everything under a new key and keeps every credential readable', async () => {
    await store.putCredential('acme', 'openai', { apiKey: 'one' });
    await store.putCredential('globex', 'gemini', { apiKey: 'two' });
    const { rotating, after } = rotated();
    expect(await rotating.reencryptAll()).toBe(2);
    expect(await rotating.reencryptAll()).toBe(0);
    expect((await after.getCredential('acme', 'openai'))?.fields).toEqual({ apiKey: 'one' });
    expect((await after.getCredential('globex', 'gemini'))?.fields).toEqual({ apiKey: 'two' });
    await expect(store.getCredential('acme', 'openai')).rejects.toMatchObject({ code: 'TENANT_KEY_MISSING' });
  });

  it('seals registrations (password included), lists, isolates and deletes them; rotation re-seals them', async () => {
    const fields = { aor: 'sip:1001@pbx', password: SECRET, contact_user: 'sb-1' };
    await store.putRegistration('acme', 'pbx', fields);
    await store.putRegistration('acme', 'trunk', { ...fields, aor: 'sip:2002@pbx' });
    await store.putRegistration('globex', 'pbx', { ...fields, aor: 'sip:3003@pbx' });
    expect(await h.raw('reg:acme:pbx')).not.toContain(SECRET);
    expect((await store.getRegistration('acme', 'pbx'))?.fields).toEqual(fields);
    expect(await store.listRegistrations('acme')).toEqual([
      { tenant: 'acme', name: 'pbx' },
      { tenant: 'acme', name: 'trunk' },
    ]);
    expect(await store.listRegistrations()).toHaveLength(3);
    // A registration is not a credential, and a sealed copy moved to another slot fails authentication.
    expect(await store.listCredentials('acme')).toEqual([]);
    await h.rawSet('reg:globex:pbx', (await h.raw('reg:acme:pbx'))!);
    await expect(store.getRegistration('globex', 'pbx')).rejects.toMatchObject({
      code: 'TENANT_CREDENTIAL_TAMPERED',
    });
    await h.rawSet('cred:acme:pbx', (await h.raw('reg:acme:pbx'))!);
    await expect(store.getCredential('acme', 'pbx')).rejects.toMatchObject({
      code: 'TENANT_CREDENTIAL_TAMPERED',
    });
    await h.backend.delete('cred:acme:pbx');
    await store.deleteRegistration('globex', 'pbx');
    const { newKey, rotating, after } = rotated();
    expect(await rotating.reencryptAll()).toBe(2);
    expect(await rotating.keyUsage()).toEqual(new Map([[keyId(newKey), 2]]));
    expect((await after.getRegistration('acme', 'trunk'))?.fields).toMatchObject({ aor: 'sip:2002@pbx' });
    expect(await store.deleteRegistration('acme', 'pbx')).toBe(true);
    expect(await store.deleteRegistration('acme', 'pbx')).toBe(false);
    expect(await store.getRegistration('acme', 'pbx')).toBeUndefined();
  });

  it('seals event webhooks (secret included), lists, isolates and deletes them; rotation re-seals them', async () => {
    const fields = { url: 'https://hooks.example.com/a', secret: SECRET, events: ['call.ended'] };
    await store.putWebhook('acme', 'main', fields);
    await store.putWebhook('acme', 'crm', { ...fields, url: 'https://crm.example.com/' });
    await store.putWebhook('globex', 'main', { ...fields, url: 'https://globex.example.com/' });
    expect(await h.raw('hook:acme:main')).not.toContain(SECRET);
    expect((await store.getWebhook('acme', 'main'))?.fields).toEqual(fields);
    expect((await store.listWebhooks('acme')).map((w) => [w.name, w.fields.url])).toEqual([
      ['crm', 'https://crm.example.com/'],
      ['main', 'https://hooks.example.com/a'],
    ]);
    expect(await store.listWebhooks('nobody')).toEqual([]);
    // A sealed webhook moved to another tenant's slot fails authentication (AAD binds tenant and name).
    await h.rawSet('hook:globex:main', (await h.raw('hook:acme:main'))!);
    await expect(store.getWebhook('globex', 'main')).rejects.toMatchObject({
      code: 'TENANT_CREDENTIAL_TAMPERED',
    });
    await store.deleteWebhook('globex', 'main');
    const { newKey, rotating, after } = rotated();
    expect(await rotating.reencryptAll()).toBe(2);
    expect(await rotating.keyUsage()).toEqual(new Map([[keyId(newKey), 2]]));
    expect((await after.getWebhook('acme', 'crm'))?.fields).toMatchObject({ secret: SECRET });
    expect(await store.deleteWebhook('acme', 'main')).toBe(true);
    expect(await store.deleteWebhook('acme', 'main')).toBe(false);
    expect(await store.getWebhook('acme', 'main')).toBeUndefined();
  });

  it('stores API keys by hash and finds them', async () => {
    await store.putApiKey('acme', 'k1', 'a'.repeat(64));
    expect(await store.findApiKey('a'.repeat(64))).toMatchObject({ id: 'k1', tenant: 'acme' });
    expect(await store.findApiKey('b'.repeat(64))).toBeUndefined();
    expect(await store.listTenants()).toEqual(['acme']);
    expect(await store.deleteApiKey('acme', 'k1')).toBe(true);
    expect(await store.findApiKey('a'.repeat(64))).toBeUndefined();
  });

  it('answers ping', async () => {
    expect(await store.ping()).toBe(true);
  });
});

describe('FileRecordBackend', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('writes its file with mode 0600 and leaves no temp files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-store-'));
    dirs.push(dir);
    const b = new FileRecordBackend(dir);
    await Promise.all(Array.from({ length: 20 }, (_, i) => b.set(`k${i}`, `v${i}`)));
    expect((await b.keys('k')).length).toBe(20);
    expect((await stat(join(dir, 'tenants.json'))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(join(dir, 'tenants.json'), 'utf8'))).toHaveProperty('k19', 'v19');
  });
});

describe('Redis fallback', () => {
  it('serves the last known credential while Redis is unreachable', async () => {
    const prefix = `sbtest:${randomBytes(4).toString('hex')}:`;
    const backend = new RedisRecordBackend({ url: redisUrl, logger, keyPrefix: prefix });
    await backend.ready();
    const store = new EncryptedTenantStore({
      backend,
      cipher: new CredentialCipher(randomBytes(32)),
      logger,
    });
    try {
      await store.putCredential('acme', 'openai', { apiKey: 'k' });
      expect((await store.getCredential('acme', 'openai'))?.fields).toEqual({ apiKey: 'k' });
      // Simulate an outage of this client only (the shared Redis keeps running for other tests).
      backend.client.disconnect(false);
      expect((await store.getCredential('acme', 'openai'))?.fields).toEqual({ apiKey: 'k' });
      await expect(store.getCredential('acme', 'never-read')).rejects.toMatchObject({
        code: 'TENANT_STORE_UNAVAILABLE',
      });
    } finally {
      const cleaner = new Redis(redisUrl);
      const keys = await cleaner.keys(`${prefix}*`);
      if (keys.length > 0) await cleaner.del(...keys);
      await cleaner.quit();
      backend.client.disconnect();
    }
  });
});
