export interface RateLimitOptions {
  /** Tokens added per second. */
  readonly ratePerS: number;
  /** Bucket size: requests a client may make at once after being idle. */
  readonly burst: number;
  /** Buckets kept at most; full (idle) buckets are dropped first, they carry no state. Default 10 000. */
  readonly maxKeys?: number;
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** A token bucket per key (a tenant): `take` answers whether one request may pass, and if not, when. */
export class TokenBucketLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(options: RateLimitOptions) {
    this.#ratePerMs = options.ratePerS / 1000;
    this.#burst = Math.max(1, options.burst);
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** `retryAfterS`: whole seconds until one token is back (RFC 9110 §10.2.3 Retry-After is in seconds). */
  take(key: string): { ok: true } | { ok: false; retryAfterS: number } {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      this.#evictIdle(now);
      bucket = { tokens: this.#burst, updatedMs: now };
      this.#buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.updatedMs) * this.#ratePerMs);
      bucket.updatedMs = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - bucket.tokens) / this.#ratePerMs / 1000)) };
  }

  #evictIdle(now: number): void {
    if (this.#buckets.size < this.#maxKeys) return;
    for (const [key, b] of this.#buckets) {
      if (b.tokens + (now - b.updatedMs) * this.#ratePerMs >= this.#burst) this.#buckets.delete(key);
    }
    // Still full of busy buckets: drop the oldest rather than grow (it only forgets some debt).
    if (this.#buckets.size >= this.#maxKeys) {
      const oldest = this.#buckets.keys().next();
      if (oldest.done !== true) this.#buckets.delete(oldest.value);
    }
  }
}
