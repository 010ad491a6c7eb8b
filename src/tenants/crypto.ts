import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { SwitchboardError } from '../errors.js';

/** An encrypted credential as stored: no plaintext, the key id tells which master key sealed it. */
export interface SealedRecord {
  readonly v: 1;
  /** Key id: first 16 hex chars of SHA-256(key). */
  readonly kid: string;
  /** 12-byte GCM nonce, base64, fresh for every write. */
  readonly iv: string;
  readonly ct: string;
  /** 16-byte GCM tag, base64. */
  readonly tag: string;
  readonly updatedAt: string;
}

export class TenantError extends SwitchboardError {}

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export function decodeMasterKey(base64: string): Buffer {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32)
    throw new TenantError('TENANT_KEY_INVALID', 'master key must be 32 bytes, base64-encoded');
  return key;
}

/**
 * AES-256-GCM sealing of credential JSON under the master key (and earlier keys during a rotation).
 * The additional authenticated data binds a record to its tenant and provider, so a ciphertext copied
 * into another tenant's slot fails authentication like any other tampering.
 */
export class CredentialCipher {
  #keys = new Map<string, Buffer>();
  #currentKid: string;

  /** `current` seals new records; `previous` keys can still open old ones. */
  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    this.#currentKid = keyId(current);
    this.setKeys(current, previous);
  }

  get currentKeyId(): string {
    return this.#currentKid;
  }

  /** Every key id this cipher can open, the current one first. */
  get keyIds(): string[] {
    return [this.#currentKid, ...[...this.#keys.keys()].filter((k) => k !== this.#currentKid)];
  }

  /** The key behind `kid`, if held (the key ring's retire re-seals with it). */
  key(kid: string): Buffer | undefined {
    return this.#keys.get(kid);
  }

  /** Swap in a new key ring at once (a running server picking up `keys rotate`). */
  setKeys(current: Buffer, previous: readonly Buffer[] = []): void {
    const keys = new Map<string, Buffer>();
    const currentKid = keyId(current);
    keys.set(currentKid, current);
    for (const k of previous) keys.set(keyId(k), k);
    this.#keys = keys;
    this.#currentKid = currentKid;
  }

  seal(aad: string, value: unknown, now: Date = new Date()): SealedRecord {
    const key = this.#keys.get(this.#currentKid);
    if (key === undefined) throw new TenantError('TENANT_KEY_MISSING', 'current key missing');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return {
      v: 1,
      kid: this.#currentKid,
      iv: iv.toString('base64'),
      ct: ct.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      updatedAt: now.toISOString(),
    };
  }

  /** Throws TENANT_KEY_MISSING for an unknown key id and TENANT_CREDENTIAL_TAMPERED when authentication fails. */
  open(aad: string, record: SealedRecord): unknown {
    const key = this.#keys.get(record.kid);
    if (key === undefined) {
      throw new TenantError('TENANT_KEY_MISSING', `credential sealed with unknown key id ${record.kid}`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(record.iv, 'base64'));
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(Buffer.from(record.tag, 'base64'));
      const pt = Buffer.concat([decipher.update(Buffer.from(record.ct, 'base64')), decipher.final()]);
      return JSON.parse(pt.toString('utf8')) as unknown;
    } catch (err) {
      throw new TenantError('TENANT_CREDENTIAL_TAMPERED', `credential ${aad} failed authentication`, {
        cause: err,
      });
    }
  }
}
