import { describe, expect, it } from 'vitest';
import { TokenBucketLimiter } from '../src/token-bucket.js';

describe('TokenBucketLimiter', () => {
  it('lets a burst through, then one request per refill interval, with Retry-After in seconds', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ ratePerS: 0.5, burst: 3, now: () => now });
    expect([1, 2, 3].map(() => limiter.take('acme').ok)).toEqual([true, true, true]);
    expect(limiter.take('acme')).toEqual({ ok: false, retryAfterS: 2 });
    expect(limiter.take('globex').ok).toBe(true); // another key has its own bucket
    now = 1000;
    expect(limiter.take('acme')).toEqual({ ok: false, retryAfterS: 1 });
    now = 2000;
    expect(limiter.take('acme').ok).toBe(true);
    expect(limiter.take('acme').ok).toBe(false);
  });

  it('refills at the rate (2/s: one token back after 500 ms)', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ ratePerS: 2, burst: 3, now: () => now });
    expect([1, 2, 3].map(() => limiter.take('a').ok)).toEqual([true, true, true]);
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterS: 1 });
    now += 500;
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(false);
  });

  it('remembers at most maxKeys keys (a spray of source addresses costs bounded memory)', () => {
    const limiter = new TokenBucketLimiter({ ratePerS: 1, burst: 1, maxKeys: 100, now: () => 0 });
    for (let i = 0; i < 10_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.size).toBe(100);
  });

  it('forgets the least recently seen key first', () => {
    const limiter = new TokenBucketLimiter({ ratePerS: 0.001, burst: 1, maxKeys: 2, now: () => 0 });
    limiter.take('a');
    limiter.take('b');
    limiter.take('a'); // a is now the most recent (and empty)
    limiter.take('c'); // evicts b
    expect(limiter.take('a').ok).toBe(false); // a kept its debt
    expect(limiter.take('b').ok).toBe(true); // b was forgotten: a full bucket again
  });
});
