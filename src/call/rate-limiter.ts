/**
 * Token buckets keyed by source address (issue 11: one source flooding INVITEs must not keep everyone else at
 * 503). Each key refills at `ratePerS` up to `burst`; the table is bounded (least recently seen keys are
 * forgotten first), so a spray of source addresses costs memory only up to `maxKeys`.
 */

export interface RateLimiterOptions {
  readonly ratePerS: number;
  readonly burst: number;
  /** Keys remembered at most (default 10 000). A forgotten key starts again with a full bucket. */
  readonly maxKeys?: number;
  /** Milliseconds, monotonic; injected for tests. */
  readonly clock?: () => number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export type TakeResult =
  | { readonly ok: true }
  | { readonly ok: false; /** Seconds until a token is available (≥ 1). */ readonly retryAfterS: number };

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;
  private readonly clock: () => number;

  constructor(private readonly options: RateLimiterOptions) {
    this.maxKeys = options.maxKeys ?? 10_000;
    this.clock = options.clock ?? (() => performance.now());
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Take one token for `key`, or say how long until one is available. */
  take(key: string): TakeResult {
    const now = this.clock();
    const { ratePerS, burst } = this.options;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: burst, updatedMs: now };
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (oldest.done !== true) this.buckets.delete(oldest.value);
      }
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedMs) / 1000) * ratePerS);
      bucket.updatedMs = now;
      // Map order is insertion order: re-insert so the first key is the least recently seen.
      this.buckets.delete(key);
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerS)) };
  }
}
