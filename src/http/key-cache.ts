import type { ApiKeyRecord } from '../tenants/store.js';

export interface KeyCacheOptions {
  /** Most entries kept; the least recently used goes first. Default 10 000 (~2 MB). */
  readonly capacity?: number;
  /**
   * How long a found key is trusted without asking the store again. It bounds how long a revoked key keeps
   * working on an instance that missed the revocation message (Redis unreachable). Default 5000.
   */
  readonly positiveTtlMs?: number;
  /** How long "no such key" is remembered, so one bad token repeated does not hit the store. Default 2000. */
  readonly negativeTtlMs?: number;
  readonly now?: () => number;
}

interface Entry {
  readonly record: ApiKeyRecord | undefined;
  readonly expiresAt: number;
}

/**
 * Tenant API key lookups by token hash: a bounded LRU (a Map in recency order) with expiring positive and
 * negative entries. Issue 11: the previous cache kept every unknown `Bearer sbk_…` forever (~161 B each).
 */
export class KeyCache {
  readonly #map = new Map<string, Entry>();
  readonly #capacity: number;
  readonly #positiveTtlMs: number;
  readonly #negativeTtlMs: number;
  readonly #now: () => number;

  constructor(options: KeyCacheOptions = {}) {
    this.#capacity = Math.max(1, options.capacity ?? 10_000);
    this.#positiveTtlMs = options.positiveTtlMs ?? 5000;
    this.#negativeTtlMs = options.negativeTtlMs ?? 2000;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#map.size;
  }

  /** `hit: false` when absent or expired; otherwise the cached answer (a record, or undefined for "none"). */
  get(hash: string): { hit: true; record: ApiKeyRecord | undefined } | { hit: false } {
    const entry = this.#map.get(hash);
    if (entry === undefined) return { hit: false };
    this.#map.delete(hash);
    if (entry.expiresAt <= this.#now()) return { hit: false };
    this.#map.set(hash, entry);
    return { hit: true, record: entry.record };
  }

  set(hash: string, record: ApiKeyRecord | undefined): void {
    const ttl = record === undefined ? this.#negativeTtlMs : this.#positiveTtlMs;
    this.#map.delete(hash);
    this.#map.set(hash, { record, expiresAt: this.#now() + ttl });
    while (this.#map.size > this.#capacity) {
      const oldest = this.#map.keys().next();
      if (oldest.done === true) break;
      this.#map.delete(oldest.value);
    }
  }

  /** Drop the entries of one key (its hash is not known to whoever revokes it). Returns how many. */
  forget(tenant: string, id: string): number {
    let removed = 0;
    for (const [hash, entry] of this.#map) {
      if (entry.record?.tenant === tenant && entry.record.id === id) {
        this.#map.delete(hash);
        removed++;
      }
    }
    return removed;
  }
}
