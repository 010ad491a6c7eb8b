/**
 * Caches DNS answers by their TTL (RFC 1035 §3.2.1; RFC 2308 §5 for negative answers) in front of a
 * DnsQuerier. Bounded: at most `maxEntries` names (the oldest entry goes first) and no answer is kept longer
 * than `maxTtlS`, whatever a server says. The clock is injected so expiry is tested without waiting.
 */
import type { DnsQuerier } from './dns-client.js';
import type { DnsRecord, DnsResponse, QueryType } from './dns-message.js';
import { normalizeName } from './dns-message.js';

export interface DnsCacheOptions {
  readonly now?: () => number;
  readonly maxEntries?: number;
  /** Ceiling on any TTL (default 1 h). */
  readonly maxTtlS?: number;
  /** How long a negative answer without an SOA is remembered (default 30 s). */
  readonly negativeTtlS?: number;
}

export interface CachedAnswer {
  readonly rcode: number;
  readonly answers: readonly DnsRecord[];
  /** True when this came from the cache rather than a query. */
  readonly cached: boolean;
}

interface Entry {
  readonly expiresAtMs: number;
  readonly rcode: number;
  readonly answers: readonly DnsRecord[];
}

export class DnsCache {
  readonly #inner: DnsQuerier;
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #maxTtlS: number;
  readonly #negativeTtlS: number;
  readonly #entries = new Map<string, Entry>();
  /** Queries in flight, so ten calls to one trunk at once ask the server once. */
  readonly #pending = new Map<string, Promise<DnsResponse>>();
  hits = 0;
  misses = 0;

  constructor(inner: DnsQuerier, options: DnsCacheOptions = {}) {
    this.#inner = inner;
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? 1024;
    this.#maxTtlS = options.maxTtlS ?? 3600;
    this.#negativeTtlS = options.negativeTtlS ?? 30;
  }

  get size(): number {
    return this.#entries.size;
  }

  async lookup(name: string, type: QueryType): Promise<CachedAnswer> {
    const key = `${type} ${normalizeName(name)}`;
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      if (entry.expiresAtMs > this.#now()) {
        this.hits++;
        return { rcode: entry.rcode, answers: entry.answers, cached: true };
      }
      this.#entries.delete(key);
    }
    this.misses++;
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = this.#inner.query(name, type).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    const response = await pending;
    this.#store(key, response);
    return { rcode: response.rcode, answers: response.answers, cached: false };
  }

  #store(key: string, response: DnsResponse): void {
    const ttlS =
      response.answers.length > 0
        ? Math.min(...response.answers.map((a) => a.ttlS))
        : (response.negativeTtlS ?? this.#negativeTtlS);
    const keepS = Math.min(ttlS, this.#maxTtlS);
    if (keepS <= 0) return;
    this.#entries.delete(key);
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, {
      expiresAtMs: this.#now() + keepS * 1000,
      rcode: response.rcode,
      answers: response.answers,
    });
  }
}
