import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { CredentialCipher, keyId, TenantError } from './crypto.js';
import type { RecordBackend } from './record-backend.js';

/** Where the ring lives in the record backend (tenants.json or Redis), beside the records it opens. */
export const KEY_RING_RECORD = 'keyring';

const sealedSchema = z.object({
  v: z.literal(1),
  kid: z.string(),
  iv: z.string(),
  ct: z.string(),
  tag: z.string(),
  updatedAt: z.string(),
});
const ringSchema = z.object({
  v: z.literal(1),
  current: z.string(),
  keys: z.array(z.object({ kid: z.string(), addedAt: z.string(), sealed: sealedSchema })),
});
type StoredRing = z.infer<typeof ringSchema>;

export interface RingKey {
  readonly kid: string;
  readonly current: boolean;
  /** The master key itself: it opens records sealed before the ring existed and can never be removed. */
  readonly master: boolean;
}

const aadFor = (kid: string): string => `keyring/${kid}`;

/**
 * The credential key ring (issue 11: `keys rotate` on a running server left credentials unreadable and lost
 * what was written meanwhile). Data keys are sealed under the master key and stored as one record in the
 * tenant backend, so every instance and the CLI see the same ring: `rotate` adds a key and makes it current,
 * older keys stay decrypt-only until `retire`. Instances re-read the ring before sealing and when a record
 * names a key they do not hold, so nothing needs a restart. Ring updates are compare-and-set.
 */
export class KeyRing {
  readonly #backend: RecordBackend;
  readonly #master: Buffer;
  readonly #masterCipher: CredentialCipher;
  readonly #cipher: CredentialCipher;

  /** `cipher` is the one the tenant store seals with; refresh() swaps the ring's keys into it. */
  constructor(options: { backend: RecordBackend; masterKey: Buffer; cipher: CredentialCipher }) {
    this.#backend = options.backend;
    this.#master = options.masterKey;
    this.#masterCipher = new CredentialCipher(options.masterKey);
    this.#cipher = options.cipher;
  }

  get cipher(): CredentialCipher {
    return this.#cipher;
  }

  /** Re-read the ring into the cipher. Throws TENANT_STORE_UNAVAILABLE / TENANT_KEY_INVALID. */
  async refresh(): Promise<void> {
    const { ring } = await this.#load();
    const keys = this.#unseal(ring);
    const current = keys.get(ring?.current ?? keyId(this.#master)) ?? this.#master;
    this.#cipher.setKeys(current, [this.#master, ...keys.values()]);
  }

  /** The ring as the CLI lists it. */
  async list(): Promise<RingKey[]> {
    const { ring } = await this.#load();
    const masterKid = keyId(this.#master);
    const current = ring?.current ?? masterKid;
    const kids = [masterKid, ...(ring?.keys.map((k) => k.kid) ?? []).filter((k) => k !== masterKid)];
    return kids.map((kid) => ({ kid, current: kid === current, master: kid === masterKid }));
  }

  /** Add `newKey` (default: 32 random bytes) as the current key; the others stay decrypt-only. */
  async rotate(newKey: Buffer = randomBytes(32)): Promise<string> {
    const kid = keyId(newKey);
    await this.#update((ring) => {
      const keys = ring.keys.filter((k) => k.kid !== kid);
      if (kid !== keyId(this.#master)) {
        const sealed = this.#masterCipher.seal(aadFor(kid), newKey.toString('base64'));
        keys.push({ kid, addedAt: new Date().toISOString(), sealed });
      }
      return { v: 1, current: kid, keys };
    });
    await this.refresh();
    return kid;
  }

  /**
   * Drop `kids` from the ring. Refuses (TENANT_KEY_IN_USE) while `inUse` reports a record sealed with one
   * of them: re-encrypt first. The current key and the master key cannot be retired.
   */
  async remove(kids: readonly string[], inUse: (kid: string) => Promise<number>): Promise<void> {
    const masterKid = keyId(this.#master);
    for (const kid of kids) {
      if (kid === masterKid) throw new TenantError('TENANT_KEY_IN_USE', 'the master key cannot be retired');
      if (kid === this.#cipher.currentKeyId)
        throw new TenantError('TENANT_KEY_IN_USE', `key ${kid} is current: rotate first`);
      const n = await inUse(kid);
      if (n > 0) throw new TenantError('TENANT_KEY_IN_USE', `key ${kid} still seals ${n} credential(s)`);
    }
    await this.#update((ring) => ({ ...ring, keys: ring.keys.filter((k) => !kids.includes(k.kid)) }));
    await this.refresh();
  }

  async #load(): Promise<{ raw: string | undefined; ring: StoredRing | undefined }> {
    let raw: string | undefined;
    try {
      raw = await this.#backend.get(KEY_RING_RECORD);
    } catch (err) {
      throw new TenantError('TENANT_STORE_UNAVAILABLE', 'tenant store unreachable', { cause: err });
    }
    if (raw === undefined) return { raw, ring: undefined };
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    const r = ringSchema.safeParse(parsed);
    if (!r.success) throw new TenantError('TENANT_KEY_INVALID', 'the stored key ring is corrupt');
    return { raw, ring: r.data };
  }

  #unseal(ring: StoredRing | undefined): Map<string, Buffer> {
    const keys = new Map<string, Buffer>();
    for (const entry of ring?.keys ?? []) {
      // A ring sealed under another master key fails here: the instance's MASTER_KEY is wrong.
      const b64 = this.#masterCipher.open(aadFor(entry.kid), entry.sealed);
      const key = Buffer.from(String(b64), 'base64');
      if (key.length !== 32 || keyId(key) !== entry.kid)
        throw new TenantError('TENANT_KEY_INVALID', `key ring entry ${entry.kid} is corrupt`);
      keys.set(entry.kid, key);
    }
    return keys;
  }

  /** Read-modify-write of the ring record with compare-and-set; bounded retries. */
  async #update(change: (ring: StoredRing) => StoredRing): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const { raw, ring } = await this.#load();
      const next = change(ring ?? { v: 1, current: keyId(this.#master), keys: [] });
      if (await this.#backend.compareAndSet(KEY_RING_RECORD, raw, JSON.stringify(next))) return;
    }
    throw new TenantError('TENANT_STORE_UNAVAILABLE', 'the key ring kept changing; try again');
  }
}
