import { describe, expect, it } from 'vitest';
import { KeyCache } from '../../src/http/key-cache.js';

const rec = (tenant: string, id: string) => ({ tenant, id, createdAt: 't' });

describe('KeyCache', () => {
  it('stays within its capacity, evicting the least recently used', () => {
    const cache = new KeyCache({ capacity: 3 });
    cache.set('a', rec('t', 'a'));
    cache.set('b', undefined);
    cache.set('c', rec('t', 'c'));
    expect(cache.get('a')).toMatchObject({ hit: true }); // a is now the most recent
    cache.set('d', undefined);
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toEqual({ hit: false });
    expect(cache.get('a')).toMatchObject({ hit: true, record: { id: 'a' } });
    for (let i = 0; i < 1000; i++) cache.set(`x${i}`, undefined);
    expect(cache.size).toBe(3);
  });

  it('expires negative entries sooner than positive ones', () => {
    let now = 0;
    const cache = new KeyCache({ positiveTtlMs: 5000, negativeTtlMs: 2000, now: () => now });
    cache.set('pos', rec('t', 'p'));
    cache.set('neg', undefined);
    now = 1999;
    expect(cache.get('neg')).toEqual({ hit: true, record: undefined });
    now = 2000;
    expect(cache.get('neg')).toEqual({ hit: false });
    expect(cache.get('pos')).toMatchObject({ hit: true });
    now = 5000;
    expect(cache.get('pos')).toEqual({ hit: false });
    expect(cache.size).toBe(0);
  });

  it('forgets a revoked key by tenant and id', () => {
    const cache = new KeyCache();
    cache.set('h1', rec('acme', 'k1'));
    cache.set('h2', rec('acme', 'k2'));
    cache.set('h3', rec('globex', 'k1'));
    expect(cache.forget('acme', 'k1')).toBe(1);
    expect(cache.get('h1')).toEqual({ hit: false });
    expect(cache.get('h2')).toMatchObject({ hit: true });
    expect(cache.get('h3')).toMatchObject({ hit: true });
  });
});
