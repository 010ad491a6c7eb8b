/** DNS wire format: query encoding, answer parsing (compression, TTLs, SOA) and hostile input. */
import { describe, expect, it } from 'vitest';
import { DnsCache } from '../../../src/sip/embedded/resolver/dns-cache.js';
import type { DnsQuerier } from '../../../src/sip/embedded/resolver/dns-client.js';
import {
  DnsFormatError,
  encodeQuery,
  parseResponse,
  type DnsResponse,
} from '../../../src/sip/embedded/resolver/dns-message.js';

/** An answer to `query` with the given answer/authority RRs (already encoded, owner as a pointer to 12). */
function answer(
  query: Buffer,
  rrs: Buffer[],
  options: { rcode?: number; authority?: Buffer[] } = {},
): Buffer {
  const head = Buffer.from(query);
  head.writeUInt16BE(0x8180 | (options.rcode ?? 0), 2);
  head.writeUInt16BE(rrs.length, 6);
  head.writeUInt16BE(options.authority?.length ?? 0, 8);
  return Buffer.concat([head, ...rrs, ...(options.authority ?? [])]);
}
function rr(type: number, ttl: number, data: Buffer, owner = Buffer.from([0xc0, 12])): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([owner, fixed, data]);
}
function name(text: string): Buffer {
  return Buffer.concat([
    ...text.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])),
    Buffer.from([0]),
  ]);
}
const u16 = (...values: number[]) => Buffer.from(values.flatMap((v) => [v >> 8, v & 0xff]));
const str = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')]);

describe('dns-message', () => {
  it('encodes a query and parses A, AAAA, SRV and NAPTR answers with TTLs', () => {
    const q = encodeQuery(0x1234, 'Example.COM.', 'SRV');
    expect(q.readUInt16BE(0)).toBe(0x1234);
    expect(q.subarray(12, 25)).toEqual(name('example.com'));
    const srvData = Buffer.concat([u16(10, 60, 5061), name('sip1.example.com')]);
    const parsed = parseResponse(answer(q, [rr(33, 120, srvData)]), {
      id: 0x1234,
      name: 'example.com',
      type: 'SRV',
    });
    expect(parsed.answers).toEqual([
      {
        type: 'SRV',
        name: 'example.com',
        ttlS: 120,
        priority: 10,
        weight: 60,
        port: 5061,
        target: 'sip1.example.com',
      },
    ]);
    const qa = encodeQuery(7, 'h.example.com', 'A');
    const a = parseResponse(
      answer(qa, [rr(1, 30, Buffer.from([10, 0, 0, 7])), rr(1, 0x80000000, Buffer.from([10, 0, 0, 8]))]),
      {
        id: 7,
        name: 'h.example.com',
        type: 'A',
      },
    );
    // RFC 2181 §8: a TTL with the top bit set counts as 0.
    expect(a.answers.map((r) => [r.type === 'A' ? r.address : '', r.ttlS])).toEqual([
      ['10.0.0.7', 30],
      ['10.0.0.8', 0],
    ]);
    const q6 = encodeQuery(8, 'h.example.com', 'AAAA');
    const v6 = Buffer.alloc(16);
    v6.writeUInt16BE(0x2001, 0);
    v6.writeUInt16BE(0xdb8, 2);
    v6.writeUInt16BE(1, 14);
    const r6 = parseResponse(answer(q6, [rr(28, 5, v6)]), { id: 8, name: 'h.example.com', type: 'AAAA' });
    expect(r6.answers[0]).toMatchObject({ type: 'AAAA', address: '2001:db8::1' });
    const qn = encodeQuery(9, 'example.com', 'NAPTR');
    const naptrData = Buffer.concat([
      u16(10, 20),
      str('S'),
      str('sip+d2t'),
      str(''),
      name('_sip._tcp.example.com'),
    ]);
    const rn = parseResponse(answer(qn, [rr(35, 60, naptrData)]), {
      id: 9,
      name: 'example.com',
      type: 'NAPTR',
    });
    expect(rn.answers[0]).toEqual({
      type: 'NAPTR',
      name: 'example.com',
      ttlS: 60,
      order: 10,
      preference: 20,
      flags: 's',
      service: 'SIP+D2T',
      regexp: '',
      replacement: '_sip._tcp.example.com',
    });
  });

  it('reads the negative TTL from the SOA in the authority section', () => {
    const q = encodeQuery(1, 'none.example.com', 'A');
    const soa = Buffer.concat([
      name('ns.example.com'),
      name('root.example.com'),
      Buffer.alloc(16),
      Buffer.from([0, 0, 0, 45]),
    ]);
    const r = parseResponse(answer(q, [], { rcode: 3, authority: [rr(6, 600, soa)] }), {
      id: 1,
      name: 'none.example.com',
      type: 'A',
    });
    expect(r).toMatchObject({ rcode: 3, answers: [], negativeTtlS: 45 });
  });

  it('rejects answers to another query and malformed or hostile messages', () => {
    const q = encodeQuery(42, 'example.com', 'SRV');
    const expect42 = { id: 42, name: 'example.com', type: 'SRV' } as const;
    const good = answer(q, [rr(33, 1, Buffer.concat([u16(1, 1, 1), name('t.example.com')]))]);
    expect(() => parseResponse(good, { ...expect42, id: 43 })).toThrow(DnsFormatError);
    expect(() => parseResponse(good, { ...expect42, name: 'other.com' })).toThrow(DnsFormatError);
    // Every truncation of a valid answer is a clean DnsFormatError, never a RangeError.
    for (let cut = 0; cut < good.length; cut++) {
      expect(() => parseResponse(good.subarray(0, cut), expect42)).toThrow(DnsFormatError);
    }
    // A self-referencing compression pointer (a loop) in the answer owner.
    const loop = answer(q, [
      rr(33, 1, Buffer.concat([u16(1, 1, 1), name('t.example.com')]), Buffer.from([0xc0, 29])),
    ]);
    expect(() => parseResponse(loop, expect42)).toThrow(/pointer/);
    // An SRV target that runs past its RDLENGTH.
    const overrun = answer(q, [rr(33, 1, Buffer.concat([u16(1, 1, 1), Buffer.from([5, 0x61])]))]);
    expect(() => parseResponse(overrun, expect42)).toThrow(DnsFormatError);
    // Absurd section counts.
    const counts = Buffer.from(good);
    counts.writeUInt16BE(5000, 6);
    expect(() => parseResponse(counts, expect42)).toThrow(/counts/);
    // Random garbage never throws anything but DnsFormatError.
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.from(good);
      for (let k = 0; k < 4; k++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        junk[12 + (seed % (junk.length - 12))] = seed & 0xff;
      }
      try {
        parseResponse(junk, expect42);
      } catch (err) {
        expect(err).toBeInstanceOf(DnsFormatError);
      }
    }
  });

  it('refuses to encode a name with an empty or over-long label', () => {
    expect(() => encodeQuery(1, 'a..b', 'A')).toThrow(DnsFormatError);
    expect(() => encodeQuery(1, `${'x'.repeat(64)}.com`, 'A')).toThrow(DnsFormatError);
  });
});

describe('DnsCache', () => {
  it('keeps answers for their TTL on an injected clock, negative answers for the SOA TTL', async () => {
    let nowMs = 1_000_000;
    let asked = 0;
    const inner: DnsQuerier = {
      query: (n) => {
        asked++;
        const response: DnsResponse =
          n === 'gone.example.com'
            ? { id: 0, rcode: 3, truncated: false, answers: [], negativeTtlS: 5 }
            : {
                id: 0,
                rcode: 0,
                truncated: false,
                negativeTtlS: undefined,
                answers: [
                  { type: 'A', name: n, ttlS: 30, address: '10.0.0.1' },
                  { type: 'A', name: n, ttlS: 10, address: '10.0.0.2' },
                ],
              };
        return Promise.resolve(response);
      },
    };
    const cache = new DnsCache(inner, { now: () => nowMs, maxEntries: 2 });
    expect((await cache.lookup('h.example.com', 'A')).cached).toBe(false);
    nowMs += 9_999;
    expect((await cache.lookup('H.example.com.', 'A')).cached).toBe(true);
    expect(asked).toBe(1);
    nowMs += 2; // past the smallest TTL of the set (10 s)
    expect((await cache.lookup('h.example.com', 'A')).cached).toBe(false);
    expect(asked).toBe(2);
    await cache.lookup('gone.example.com', 'A');
    nowMs += 4_000;
    expect((await cache.lookup('gone.example.com', 'A')).cached).toBe(true);
    nowMs += 1_001;
    expect((await cache.lookup('gone.example.com', 'A')).cached).toBe(false);
    // Bounded: a third name evicts the oldest.
    await cache.lookup('x.example.com', 'A');
    expect(cache.size).toBe(2);
  });
});
