/**
 * Token buckets per key (issue 11): a tenant's API requests, a source address's INVITEs. Each key refills at
 * `ratePerS` up to `burst`; the table is bounded (least recently seen keys are forgotten first, which only
 * forgives some debt), so a spray of keys costs memory only up to `maxKeys`. A leaf module: http/ and call/
 * both use it.
 */

export interface TokenBucketOptions {
  /** Tokens added per second. */
  readonly ratePerS: number;
  /** Bucket size: requests a key may make at once after being idle. */
  readonly burst: number;
  /** Keys remembered at most (default 10 000). A forgotten key starts again with a full bucket. */
  readonly maxKeys?: number;
  /** Milliseconds, monotonic; injected for tests. */
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export type TakeResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** Whole seconds until a token is back, ≥ 1 (RFC 9110 §10.2.3 and RFC 3261 §20.33 use seconds). */
      readonly retryAfterS: number;
    };

export class TokenBucketLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #ratePerS: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(options: TokenBucketOptions) {
    this.#ratePerS = options.ratePerS;
    this.#burst = Math.max(1, options.burst);
    this.#maxKeys = options.maxKeys ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Take one token for `key`, or say how long until one is available. */
  take(key: string): TakeResult {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.#burst, updatedMs: now };
      if (this.#buckets.size >= this.#maxKeys) {
        const oldest = this.#buckets.keys().next();
        if (oldest.done !== true) this.#buckets.delete(oldest.value);
      }
    } else {
      bucket.tokens = Math.min(
        this.#burst,
        bucket.tokens + ((now - bucket.updatedMs) / 1000) * this.#ratePerS,
      );
      bucket.updatedMs = now;
      // Map order is insertion order: re-insert so the first key is the least recently seen.
      this.#buckets.delete(key);
    }
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - bucket.tokens) / this.#ratePerS)) };
  }
}
