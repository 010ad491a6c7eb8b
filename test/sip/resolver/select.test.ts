/** RFC 2782 SRV ordering and RFC 3263 NAPTR filtering, with an injected random source. */
import { describe, expect, it } from 'vitest';
import type { NaptrRecord, SrvRecord } from '../../../src/sip/embedded/resolver/dns-message.js';
import { orderNaptr, orderSrv } from '../../../src/sip/embedded/resolver/select.js';

const srv = (target: string, priority: number, weight: number): SrvRecord => ({
  type: 'SRV',
  name: '_sip._udp.example.com',
  ttlS: 60,
  priority,
  weight,
  port: 5060,
  target,
});
const naptr = (service: string, order: number, preference: number, flags = 's'): NaptrRecord => ({
  type: 'NAPTR',
  name: 'example.com',
  ttlS: 60,
  order,
  preference,
  flags,
  service,
  regexp: '',
  replacement: `_${service}.example.com`,
});

/** A fixed sequence of "random" numbers. */
const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length] ?? 0;
};

describe('orderSrv (RFC 2782)', () => {
  it('orders by priority first, whatever the weights', () => {
    const out = orderSrv([srv('c', 30, 1000), srv('a', 10, 0), srv('b', 20, 5)], sequence(0.99));
    expect(out.map((r) => r.target)).toEqual(['a', 'b', 'c']);
  });

  it('picks within a priority by running weight sum', () => {
    const records = [srv('light', 10, 10), srv('heavy', 10, 90)];
    // Sorted by weight: light (0–10), heavy (10–100). 0.05·100 = 5 → light; 0.5·100 = 50 → heavy.
    expect(orderSrv(records, sequence(0.05, 0)).map((r) => r.target)).toEqual(['light', 'heavy']);
    expect(orderSrv(records, sequence(0.5, 0)).map((r) => r.target)).toEqual(['heavy', 'light']);
  });

  it('spreads the first pick in proportion to weight over many draws', () => {
    const records = [srv('a', 1, 20), srv('b', 1, 60), srv('c', 1, 20)];
    let seed = 12345;
    // A small LCG: deterministic, roughly uniform.
    const lcg = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const firsts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 10_000; i++) {
      const t = orderSrv(records, lcg)[0]?.target ?? '';
      firsts[t] = (firsts[t] ?? 0) + 1;
    }
    expect(firsts.b).toBeGreaterThan(5600);
    expect(firsts.b).toBeLessThan(6400);
    expect(firsts.a).toBeGreaterThan(1700);
    expect(firsts.c).toBeGreaterThan(1700);
  });

  it('gives weight-0 records a chance only when all weights are 0 or the draw lands on them', () => {
    const zero = [srv('x', 5, 0), srv('y', 5, 0)];
    expect(orderSrv(zero, sequence(0.9)).map((r) => r.target)).toEqual(['y', 'x']);
    expect(orderSrv(zero, sequence(0.1)).map((r) => r.target)).toEqual(['x', 'y']);
    // Weight 0 beside weight 10: only a draw of exactly 0 picks the zero-weight record (it sorts first).
    const mixed = [srv('ten', 5, 10), srv('nil', 5, 0)];
    expect(orderSrv(mixed, sequence(0.5)).map((r) => r.target)).toEqual(['ten', 'nil']);
    expect(orderSrv(mixed, sequence(0)).map((r) => r.target)).toEqual(['nil', 'ten']);
  });

  it('a lone "." target means the service is not offered', () => {
    expect(orderSrv([srv('', 0, 0)])).toEqual([]);
  });
});

describe('orderNaptr (RFC 3263 §4.1)', () => {
  it('keeps supported SIP services with flag s, ordered by order then preference', () => {
    const out = orderNaptr(
      [
        naptr('SIP+D2U', 20, 10),
        naptr('SIP+D2T', 10, 50),
        naptr('SIPS+D2T', 10, 20),
        naptr('SIP+D2S', 1, 1),
        naptr('E2U+SIP', 1, 1),
        naptr('SIP+D2U', 1, 1, 'a'),
      ],
      ['SIP+D2U', 'SIP+D2T', 'SIPS+D2T'],
    );
    expect(out.map((r) => `${r.service}/${r.order}/${r.preference}`)).toEqual([
      'SIPS+D2T/10/20',
      'SIP+D2T/10/50',
      'SIP+D2U/20/10',
    ]);
  });

  it('drops services whose transport is not enabled', () => {
    expect(orderNaptr([naptr('SIPS+D2T', 1, 1)], ['SIP+D2U'])).toEqual([]);
  });
});
