import type { Logger } from '../observability/logger.js';
import { type CredentialCipher, type SealedRecord, TenantError } from './crypto.js';
import type { KeyRing } from './key-ring.js';
import type { RecordBackend } from './record-backend.js';
import type {
  ApiKeyRecord,
  CredentialRecord,
  RegistrationRecord,
  TenantStore,
  WebhookRecord,
} from './store.js';

const CRED = 'cred:';
const APIKEY = 'apikey:';
const APIKEY_ID = 'apikeyid:';
const REG = 'reg:';
const HOOK = 'hook:';
/** Every prefix whose records are sealed (re-encrypted on rotation, counted by key usage). */
const SEALED = [CRED, REG, HOOK] as const;

function credKey(tenant: string, provider: string): string {
  return `${CRED}${tenant}:${provider}`;
}

function regKey(tenant: string, name: string): string {
  return `${REG}${tenant}:${name}`;
}

function hookKey(tenant: string, name: string): string {
  return `${HOOK}${tenant}:${name}`;
}

const hookAad = (tenant: string, name: string): string => `${tenant}/webhook/${name}`;

/** The AAD binding a sealed record to its slot (a provider slug never holds '/', so they never clash). */
function sealedAad(key: string): string | undefined {
  const prefix = SEALED.find((p) => key.startsWith(p));
  if (prefix === undefined) return undefined;
  const [tenant, name] = key.slice(prefix.length).split(':');
  if (tenant === undefined || name === undefined) return undefined;
  if (prefix === HOOK) return hookAad(tenant, name);
  return prefix === CRED ? `${tenant}/${name}` : `${tenant}/registration/${name}`;
}

function isSealed(value: unknown): value is SealedRecord {
  const r = value as Partial<SealedRecord> | null;
  return (
    r !== null &&
    typeof r === 'object' &&
    r.v === 1 &&
    typeof r.kid === 'string' &&
    typeof r.iv === 'string' &&
    typeof r.ct === 'string' &&
    typeof r.tag === 'string' &&
    typeof r.updatedAt === 'string'
  );
}

/**
 * The TenantStore over any RecordBackend: seals credentials with the CredentialCipher before they reach the
 * backend and keeps the last sealed record it read per key, so when the backend (Redis) is unreachable new
 * calls still get the last known tenant data.
 */
export class EncryptedTenantStore implements TenantStore {
  readonly #backend: RecordBackend;
  readonly #cipher: CredentialCipher;
  readonly #log: Logger;
  /** Values read or written, by key: only records that exist, so it is bounded by what the backend holds. */
  readonly #lastKnown = new Map<string, string>();
  readonly #ring: KeyRing | undefined;
  #ringRefreshedAt = 0;

  /** With `ring`, the cipher follows the stored key ring (`keys rotate` beside a running server). */
  constructor(options: { backend: RecordBackend; cipher: CredentialCipher; logger: Logger; ring?: KeyRing }) {
    this.#backend = options.backend;
    this.#cipher = options.cipher;
    this.#ring = options.ring;
    this.#log = options.logger.child({ component: 'tenant-store', store: options.backend.kind });
  }

  get kind(): 'redis' | 'file' {
    return this.#backend.kind;
  }

  /**
   * Read through the backend, falling back to the last value read when the backend is unreachable (so calls
   * keep getting credentials while Redis is away). A miss is not remembered: issue 11 found every unknown
   * key adding an entry forever.
   */
  async #read(key: string): Promise<string | undefined> {
    try {
      const value = await this.#backend.get(key);
      if (value === undefined) this.#lastKnown.delete(key);
      else this.#lastKnown.set(key, value);
      return value;
    } catch (err) {
      const last = this.#lastKnown.get(key);
      if (last !== undefined) {
        this.#log.warn({ err: (err as Error).message }, 'store unreachable; using last known data');
        return last;
      }
      throw new TenantError('TENANT_STORE_UNAVAILABLE', 'tenant store unreachable', { cause: err });
    }
  }

  /** Read without the last-known fallback: API keys must not outlive a revocation while Redis is away. */
  async #readFresh(key: string): Promise<string | undefined> {
    try {
      return await this.#backend.get(key);
    } catch (err) {
      throw new TenantError('TENANT_STORE_UNAVAILABLE', 'tenant store unreachable', { cause: err });
    }
  }

  async #write(key: string, value: string): Promise<void> {
    await this.#writeFresh(key, value);
    this.#lastKnown.set(key, value);
  }

  async #writeFresh(key: string, value: string): Promise<void> {
    try {
      await this.#backend.set(key, value);
    } catch (err) {
      throw new TenantError('TENANT_STORE_UNAVAILABLE', 'tenant store unreachable', { cause: err });
    }
  }

  async #delete(key: string): Promise<boolean> {
    try {
      const existed = await this.#backend.delete(key);
      this.#lastKnown.delete(key);
      return existed;
    } catch (err) {
      throw new TenantError('TENANT_STORE_UNAVAILABLE', 'tenant store unreachable', { cause: err });
    }
  }

  async #keys(prefix: string): Promise<string[]> {
    try {
      return await this.#backend.keys(prefix);
    } catch (err) {
      throw new TenantError('TENANT_STORE_UNAVAILABLE', 'tenant store unreachable', { cause: err });
    }
  }

  /** Seal `fields` for the slot `key` (AAD `aad`) and write it. */
  async #putSealed(key: string, aad: string, fields: Readonly<Record<string, unknown>>): Promise<void> {
    // Writes are rare: re-read the ring so a rotation done elsewhere is sealed with from the next write on.
    await this.#ring?.refresh();
    await this.#write(key, JSON.stringify(this.#cipher.seal(aad, fields)));
  }

  /** Read and open the sealed object at `key`, or undefined when absent. */
  async #getSealed(
    key: string,
    aad: string,
  ): Promise<{ fields: Record<string, unknown>; updatedAt: string } | undefined> {
    const raw = await this.#read(key);
    if (raw === undefined) return undefined;
    const record = this.#parseSealed(raw, aad);
    const fields = await this.#open(aad, record);
    if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) {
      throw new TenantError('TENANT_CREDENTIAL_TAMPERED', `credential ${aad} is not an object`);
    }
    return { fields: fields as Record<string, unknown>, updatedAt: record.updatedAt };
  }

  putCredential(tenant: string, provider: string, fields: Readonly<Record<string, unknown>>): Promise<void> {
    return this.#putSealed(credKey(tenant, provider), `${tenant}/${provider}`, fields);
  }

  /** Open a record; a key id we do not hold yet means the ring grew elsewhere: re-read it (at most 1/s). */
  async #open(aad: string, record: SealedRecord): Promise<unknown> {
    try {
      return this.#cipher.open(aad, record);
    } catch (err) {
      const missing = err instanceof TenantError && err.code === 'TENANT_KEY_MISSING';
      if (!missing || this.#ring === undefined || Date.now() - this.#ringRefreshedAt < 1000) throw err;
      this.#ringRefreshedAt = Date.now();
      await this.#ring.refresh();
      return this.#cipher.open(aad, record);
    }
  }

  async getCredential(tenant: string, provider: string): Promise<CredentialRecord | undefined> {
    const opened = await this.#getSealed(credKey(tenant, provider), `${tenant}/${provider}`);
    return opened === undefined ? undefined : { tenant, provider, ...opened };
  }

  #parseSealed(raw: string, what: string): SealedRecord {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (!isSealed(parsed))
      throw new TenantError('TENANT_CREDENTIAL_TAMPERED', `credential ${what} is corrupt`);
    return parsed;
  }

  deleteCredential(tenant: string, provider: string): Promise<boolean> {
    return this.#delete(credKey(tenant, provider));
  }

  async listCredentials(tenant: string): Promise<Array<{ provider: string; updatedAt: string }>> {
    const prefix = `${CRED}${tenant}:`;
    const out: Array<{ provider: string; updatedAt: string }> = [];
    for (const key of await this.#keys(prefix)) {
      const raw = await this.#read(key);
      if (raw === undefined) continue;
      let updatedAt = '';
      try {
        updatedAt = this.#parseSealed(raw, key).updatedAt;
      } catch {
        updatedAt = 'corrupt';
      }
      out.push({ provider: key.slice(prefix.length), updatedAt });
    }
    return out.sort((a, b) => a.provider.localeCompare(b.provider));
  }

  async listTenants(): Promise<string[]> {
    const tenants = new Set<string>();
    for (const key of await this.#keys(CRED)) tenants.add(key.slice(CRED.length).split(':')[0] ?? '');
    for (const key of await this.#keys(APIKEY_ID))
      tenants.add(key.slice(APIKEY_ID.length).split(':')[0] ?? '');
    tenants.delete('');
    return [...tenants].sort();
  }

  putRegistration(tenant: string, name: string, fields: Readonly<Record<string, unknown>>): Promise<void> {
    return this.#putSealed(regKey(tenant, name), `${tenant}/registration/${name}`, fields);
  }

  async getRegistration(tenant: string, name: string): Promise<RegistrationRecord | undefined> {
    const opened = await this.#getSealed(regKey(tenant, name), `${tenant}/registration/${name}`);
    return opened === undefined ? undefined : { tenant, name, ...opened };
  }

  deleteRegistration(tenant: string, name: string): Promise<boolean> {
    return this.#delete(regKey(tenant, name));
  }

  async listRegistrations(tenant?: string): Promise<Array<{ tenant: string; name: string }>> {
    const prefix = tenant === undefined ? REG : `${REG}${tenant}:`;
    return (await this.#keys(prefix))
      .map((key) => key.slice(REG.length).split(':'))
      .flatMap(([t, n]) => (t === undefined || n === undefined ? [] : [{ tenant: t, name: n }]));
  }

  putWebhook(tenant: string, name: string, fields: Readonly<Record<string, unknown>>): Promise<void> {
    return this.#putSealed(hookKey(tenant, name), hookAad(tenant, name), fields);
  }

  async getWebhook(tenant: string, name: string): Promise<WebhookRecord | undefined> {
    const opened = await this.#getSealed(hookKey(tenant, name), hookAad(tenant, name));
    return opened === undefined ? undefined : { tenant, name, ...opened };
  }

  deleteWebhook(tenant: string, name: string): Promise<boolean> {
    return this.#delete(hookKey(tenant, name));
  }

  async listWebhooks(tenant: string): Promise<WebhookRecord[]> {
    const prefix = `${HOOK}${tenant}:`;
    const out: WebhookRecord[] = [];
    for (const key of await this.#keys(prefix)) {
      const record = await this.getWebhook(tenant, key.slice(prefix.length));
      if (record !== undefined) out.push(record);
    }
    return out;
  }

  async #sealedKeys(): Promise<string[]> {
    const out: string[] = [];
    for (const prefix of SEALED) out.push(...(await this.#keys(prefix)));
    return out;
  }

  async putApiKey(tenant: string, id: string, tokenHash: string): Promise<void> {
    const record: ApiKeyRecord = { id, tenant, createdAt: new Date().toISOString() };
    await this.#writeFresh(APIKEY + tokenHash, JSON.stringify(record));
    await this.#writeFresh(`${APIKEY_ID}${tenant}:${id}`, tokenHash);
  }

  async findApiKey(tokenHash: string): Promise<ApiKeyRecord | undefined> {
    const raw = await this.#readFresh(APIKEY + tokenHash);
    if (raw === undefined) return undefined;
    try {
      const r = JSON.parse(raw) as ApiKeyRecord;
      return typeof r.tenant === 'string' && typeof r.id === 'string' ? r : undefined;
    } catch {
      return undefined;
    }
  }

  async deleteApiKey(tenant: string, id: string): Promise<boolean> {
    const hash = await this.#readFresh(`${APIKEY_ID}${tenant}:${id}`);
    if (hash === undefined) return false;
    await this.#delete(APIKEY + hash);
    return this.#delete(`${APIKEY_ID}${tenant}:${id}`);
  }

  /**
   * Re-seal every credential not under the current key. Compare-and-set per record: a credential written
   * meanwhile (by a server, with any ring key) is re-read rather than overwritten with its older value.
   */
  async reencryptAll(): Promise<number> {
    await this.#ring?.refresh();
    let count = 0;
    for (const key of await this.#sealedKeys()) {
      const aad = sealedAad(key);
      if (aad === undefined) continue;
      for (let attempt = 0; ; attempt++) {
        const raw = await this.#readFresh(key);
        if (raw === undefined) break;
        const record = this.#parseSealed(raw, aad);
        if (record.kid === this.#cipher.currentKeyId) break;
        const fields = await this.#open(aad, record);
        const sealed = JSON.stringify(this.#cipher.seal(aad, fields, new Date(record.updatedAt)));
        if (await this.#compareAndSet(key, raw, sealed)) {
          count++;
          break;
        }
        if (attempt >= 10)
          throw new TenantError('TENANT_STORE_UNAVAILABLE', `credential ${aad} kept changing`);
      }
    }
    return count;
  }

  /** How many credentials each key id seals (retire refuses a key still in use). */
  async keyUsage(): Promise<Map<string, number>> {
    const usage = new Map<string, number>();
    for (const key of await this.#sealedKeys()) {
      const raw = await this.#readFresh(key);
      if (raw === undefined) continue;
      const kid = this.#parseSealed(raw, key).kid;
      usage.set(kid, (usage.get(kid) ?? 0) + 1);
    }
    return usage;
  }

  async #compareAndSet(key: string, expected: string, value: string): Promise<boolean> {
    let done: boolean;
    try {
      done = await this.#backend.compareAndSet(key, expected, value);
    } catch (err) {
      throw new TenantError('TENANT_STORE_UNAVAILABLE', 'tenant store unreachable', { cause: err });
    }
    if (done) this.#lastKnown.set(key, value);
    return done;
  }

  ping(): Promise<boolean> {
    return this.#backend.ping();
  }

  close(): Promise<void> {
    return this.#backend.close();
  }
}
