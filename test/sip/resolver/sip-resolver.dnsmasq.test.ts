/**
 * RFC 3263 resolution against a real authoritative server (dnsmasq on 127.0.0.130:53053): NAPTR → SRV →
 * A for a trunk name, SRV per transport without NAPTR, A on the default port without SRV, a port in the URI
 * (A only), TTL caching (a second resolution asks dnsmasq nothing) and the clear error for a name without
 * records. Loopback block 127.0.0.130–139, ports 53000–53999.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.js';
import { DnsCache, DnsClient, SipResolver } from '../../../src/sip/embedded/resolver/index.js';
import { startDnsmasq, type Dnsmasq } from '../../support/dnsmasq.js';

const D = 'sbres.test';
const logger = createLogger({ level: 'silent' });

describe('SipResolver against dnsmasq', () => {
  let dns: Dnsmasq;
  let cache: DnsCache;
  let resolver: SipResolver;

  beforeAll(async () => {
    dns = await startDnsmasq({
      address: '127.0.0.130',
      port: 53054,
      domain: D,
      ttlS: 300,
      naptr: [
        // The TCP record has the better order: it is tried first although listed second.
        {
          name: `trunk.${D}`,
          order: 20,
          preference: 10,
          service: 'SIP+D2U',
          replacement: `_sip._udp.trunk.${D}`,
        },
        {
          name: `trunk.${D}`,
          order: 10,
          preference: 10,
          service: 'SIP+D2T',
          replacement: `_sip._tcp.trunk.${D}`,
        },
        // A service we do not support is ignored.
        {
          name: `trunk.${D}`,
          order: 5,
          preference: 10,
          service: 'SIP+D2S',
          replacement: `_sip._sctp.trunk.${D}`,
        },
      ],
      srv: [
        { name: `_sip._tcp.trunk.${D}`, target: `b.${D}`, port: 53062, priority: 20, weight: 100 },
        { name: `_sip._tcp.trunk.${D}`, target: `a.${D}`, port: 53061, priority: 10, weight: 100 },
        { name: `_sip._udp.trunk.${D}`, target: `c.${D}`, port: 53063, priority: 10, weight: 0 },
        { name: `_sip._sctp.trunk.${D}`, target: `c.${D}`, port: 53069, priority: 1, weight: 0 },
        { name: `_sip._tcp.plain.${D}`, target: `b.${D}`, port: 53064, priority: 10, weight: 1 },
      ],
      hosts: {
        [`a.${D}`]: '127.0.0.131',
        [`b.${D}`]: '127.0.0.132',
        [`c.${D}`]: '127.0.0.133',
        [`bare.${D}`]: '127.0.0.134',
      },
    });
    cache = new DnsCache(
      new DnsClient({ servers: [{ address: '127.0.0.130', port: 53054 }], timeoutMs: 3000 }),
    );
    resolver = new SipResolver({ cache, logger });
  }, 20_000);
  afterAll(async () => {
    await dns?.stop();
  });

  it('follows NAPTR (order) → SRV (priority) → A', { timeout: 20_000 }, async () => {
    const targets = await resolver.resolve(`sip:+15551230000@trunk.${D}`, ['udp', 'tcp']);
    expect(targets, dns.transcript()).toEqual([
      { transport: 'tcp', address: '127.0.0.131', port: 53061, domain: `trunk.${D}` },
      { transport: 'tcp', address: '127.0.0.132', port: 53062, domain: `trunk.${D}` },
      { transport: 'udp', address: '127.0.0.133', port: 53063, domain: `trunk.${D}` },
    ]);
    // Only the enabled transports: with UDP alone the TCP NAPTR records are skipped.
    expect(await resolver.resolve(`sip:trunk.${D}`, ['udp'])).toEqual([
      { transport: 'udp', address: '127.0.0.133', port: 53063, domain: `trunk.${D}` },
    ]);
  });

  it('serves a second resolution from the TTL cache', { timeout: 20_000 }, async () => {
    await resolver.resolve(`sip:trunk.${D}`, ['udp', 'tcp']);
    const before = {
      naptr: dns.queries('NAPTR', `trunk.${D}`),
      srv: dns.queries('SRV', `_sip._tcp.trunk.${D}`),
      a: dns.queries('A', `a.${D}`),
    };
    expect(before.naptr).toBe(1);
    expect(before.srv).toBe(1);
    const hitsBefore = cache.hits;
    const again = await resolver.resolve(`sip:bob@trunk.${D}`, ['udp', 'tcp']);
    expect(again).toHaveLength(3);
    expect(cache.hits).toBeGreaterThan(hitsBefore);
    expect({
      naptr: dns.queries('NAPTR', `trunk.${D}`),
      srv: dns.queries('SRV', `_sip._tcp.trunk.${D}`),
      a: dns.queries('A', `a.${D}`),
    }).toEqual(before);
  });

  it('without NAPTR queries SRV per transport, then A on the default port', { timeout: 20_000 }, async () => {
    expect(await resolver.resolve(`sip:plain.${D}`, ['udp', 'tcp'])).toEqual([
      { transport: 'tcp', address: '127.0.0.132', port: 53064, domain: `plain.${D}` },
    ]);
    expect(dns.queries('SRV', `_sip._udp.plain.${D}`)).toBe(1);
    expect(await resolver.resolve(`sip:bare.${D}`, ['udp', 'tcp'])).toEqual([
      { transport: 'udp', address: '127.0.0.134', port: 5060, domain: `bare.${D}` },
    ]);
    // transport=tcp without a port: SRV for _sip._tcp, else A on 5060 over TCP.
    expect(await resolver.resolve(`sip:bare.${D};transport=tcp`, ['udp', 'tcp'])).toEqual([
      { transport: 'tcp', address: '127.0.0.134', port: 5060, domain: `bare.${D}` },
    ]);
  });

  it('a port in the URI means A/AAAA only; an IP is used as is', { timeout: 20_000 }, async () => {
    const srvBefore = dns.queries('SRV', `_sip._udp.trunk.${D}`);
    expect(await resolver.resolve(`sip:x@a.${D}:53070`, ['udp', 'tcp'])).toEqual([
      { transport: 'udp', address: '127.0.0.131', port: 53070, domain: `a.${D}` },
    ]);
    expect(dns.queries('NAPTR', `a.${D}`)).toBe(0);
    expect(dns.queries('SRV', `_sip._udp.trunk.${D}`)).toBe(srvBefore);
    expect(await resolver.resolve('sip:x@127.0.0.139;transport=tcp', ['udp', 'tcp'])).toEqual([
      { transport: 'tcp', address: '127.0.0.139', port: 5060, domain: '127.0.0.139' },
    ]);
  });

  it(
    'a name without records fails with a clear error (and is cached negatively)',
    { timeout: 20_000 },
    async () => {
      await expect(resolver.resolve(`sip:bob@nothing.${D}`, ['udp', 'tcp'])).rejects.toThrow(
        `dns: no NAPTR/SRV/A records for nothing.${D}`,
      );
      const asked = dns.queries('NAPTR', `nothing.${D}`);
      expect(asked).toBe(1);
      await expect(resolver.resolve(`sip:nothing.${D}`, ['udp', 'tcp'])).rejects.toThrow(/no NAPTR\/SRV\/A/);
      expect(dns.queries('NAPTR', `nothing.${D}`)).toBe(asked);
      await expect(resolver.resolve(`sips:bob@trunk.${D}`, ['udp', 'tcp'])).rejects.toThrow(
        /no enabled transport/,
      );
    },
  );
});
