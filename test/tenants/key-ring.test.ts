/**
 * Issue 11: `switchboard keys rotate` beside a running server used to leave every credential unreadable
 * until restart, and a credential written in that window was sealed with the discarded key and lost. Here
 * the key commands run against the data of a live production server (file store and Redis), credentials
 * are written during and after the rotation, and everything stays readable by that server, by another
 * instance, and after a restart; retire refuses while a key is in use and re-encrypts first otherwise.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listKeys, retireKeys, rotateKeys } from '../../src/cli-commands/keys.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { createTenantStore } from '../../src/tenants/index.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DIALPLAN = { 'acme.yaml': 'tenant: acme\nnumbers: ["100"]\nagent: { provider: echo }\n' };

interface Variant {
  readonly name: string;
  readonly env: Record<string, string>;
  readonly redisKeyPrefix?: string;
}
const variants: Variant[] = [
  { name: 'file store', env: {} },
  {
    name: 'redis store',
    env: { REDIS_URL: 'redis://127.0.0.1:6379', MASTER_KEY: randomBytes(32).toString('base64') },
    redisKeyPrefix: `sbtest:keyring:${randomBytes(4).toString('hex')}:`,
  },
];

describe.each(variants)('key ring with a running server ($name)', (variant) => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers.reverse()) await s.close();
  });
  let dataDir = '';
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sb-keyring-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });
  /** Every server of a variant shares one DATA_DIR (master.key, tenants.json) that outlives them. */
  const start = async (): Promise<TestServer> => {
    const srv = await startTestServer({
      dialplans: DIALPLAN,
      logLevel: 'warn',
      env: variant.env,
      dataDir,
      ...(variant.redisKeyPrefix === undefined ? {} : { redisKeyPrefix: variant.redisKeyPrefix }),
    });
    servers.push(srv);
    return srv;
  };
  const opts = variant.redisKeyPrefix === undefined ? {} : { redisKeyPrefix: variant.redisKeyPrefix };
  const put = async (srv: TestServer, slug: string): Promise<number> =>
    (await srv.api('PUT', `/v1/tenants/acme/credentials/${slug}`, credentialFor(slug))).status;
  const kidsInUse = (srv: TestServer): Promise<Map<string, number>> => srv.server.store.keyUsage();
  const allOk = (slugs: readonly string[]) => Object.fromEntries(slugs.map((n) => [n, 'ok']));

  it('rotates while credentials are written, retires only unused keys, and survives a restart', async () => {
    const srv = await start();
    const config = loadConfig({ DATA_DIR: srv.dataDir, ...variant.env });
    expect(await put(srv, 'openai')).toBe(204);
    expect(await put(srv, 'gemini')).toBe(204);
    const masterKid = [...(await kidsInUse(srv)).keys()][0];

    // During: writes in flight while the ring changes under the server.
    const during = Promise.all(['qwen-omni', 'azure-openai'].map((slug) => put(srv, slug)));
    const rotated = await rotateKeys(config, opts);
    expect(await during).toEqual([204, 204]);
    const firstKid = /key ([0-9a-f]{16}) is now current/.exec(rotated)?.[1];
    expect(firstKid).toMatch(/^[0-9a-f]{16}$/);

    // After: the running server seals with the new key without a restart.
    expect(await put(srv, 'echo')).toBe(204);
    const usage = await kidsInUse(srv);
    expect(usage.get(firstKid ?? '')).toBeGreaterThanOrEqual(1);
    expect(usage.get(masterKid ?? '')).toBeGreaterThanOrEqual(2);

    // A second instance (or the CLI) writes with a key this server has never seen: it re-reads the ring.
    const second = await rotateKeys(config, opts);
    const secondKid = /key ([0-9a-f]{16}) is now current/.exec(second)?.[1] ?? '';
    const other = await createTenantStore(config, createLogger({ level: 'silent' }), [], opts);
    await other.putCredential('acme', 'openai', { apiKey: 'sk-openai-secret' });
    await other.close();
    expect((await kidsInUse(srv)).get(secondKid)).toBe(1);

    const all = ['openai', 'gemini', 'qwen-omni', 'azure-openai', 'echo'];
    expect(await readAllFields(srv, all)).toEqual(allOk(all));

    // Retire without re-encrypting refuses: the first rotated key still seals credentials.
    await expect(retireKeys(config, { ...opts, reencrypt: false })).rejects.toMatchObject({
      code: 'TENANT_KEY_IN_USE',
    });
    expect(await listKeys(config, opts)).toContain(firstKid);

    // Retire re-encrypts, then removes every key but the current one (and the master key).
    const retired = await retireKeys(config, opts);
    expect(retired).toContain(`retired ${firstKid}`);
    const listed = await listKeys(config, opts);
    expect(listed).not.toContain(firstKid);
    expect(listed).toContain(`${secondKid} current credentials=${all.length}`);
    expect([...(await kidsInUse(srv)).keys()]).toEqual([secondKid]);
    expect(await readAllFields(srv, all)).toEqual(allOk(all));

    // And after a restart, from the stored ring alone.
    await srv.close();
    servers.splice(servers.indexOf(srv), 1);
    const restarted = await start();
    expect(await readAllFields(restarted, all)).toEqual(allOk(all));
  });
});

/** A valid credential for each provider slug used above. */
function credentialFor(slug: string): Record<string, unknown> {
  if (slug === 'azure-openai')
    return { apiKey: 'sk-azure-openai-secret', endpoint: 'https://r.openai.azure.com', deployment: 'd' };
  if (slug === 'echo') return {};
  return { apiKey: `sk-${slug}-secret` };
}

/** 'ok' when the server decrypts the credential and it holds what was written. */
async function readAllFields(srv: TestServer, slugs: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const slug of slugs) {
    const api = await srv.api('GET', `/v1/tenants/acme/credentials/${slug}`);
    const plain = await srv.server.store.getCredential('acme', slug);
    const want = credentialFor(slug);
    out[slug] =
      api.status !== 200
        ? `HTTP ${api.status}`
        : JSON.stringify(plain?.fields) === JSON.stringify(want)
          ? 'ok'
          : 'wrong';
  }
  return out;
}
