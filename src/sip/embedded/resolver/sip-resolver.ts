/**
 * RFC 3263 §4 "Locating a SIP server": turns a SIP URI into an ordered list of (transport, address, port)
 * targets. Numeric host → as is; a port → A/AAAA; otherwise NAPTR (§4.1) → SRV (§4.2, RFC 2782 order) →
 * A/AAAA, falling back to SRV per supported transport and then to A/AAAA on the default port. Which
 * transports exist (udp, tcp, tls, …) is data (TRANSPORT_RULES), filtered by what the endpoint listens on.
 */
import { isIP } from 'node:net';
import type { Logger } from '../../../observability/logger.js';
import { parseUri, socketHost } from '../syntax.js';
import { DnsError } from './dns-client.js';
import type { DnsCache } from './dns-cache.js';
import type { AddressRecord, NaptrRecord, SrvRecord } from './dns-message.js';
import { orderNaptr, orderSrv, type RandomSource } from './select.js';

export interface TransportRule {
  readonly transport: string;
  /** RFC 3263 §4.1 / RFC 3261 §26.3: the NAPTR service field for this transport. */
  readonly naptrService: string;
  /** RFC 3263 §4.2: the SRV owner-name prefix. */
  readonly srvPrefix: string;
  readonly defaultPort: number;
  /** TLS: the only kind a `sips:` URI may use (RFC 3261 §26.2.2). */
  readonly secure: boolean;
}

/** In the client's order of preference when neither NAPTR nor the URI decides (RFC 3263 §4.1). */
export const TRANSPORT_RULES: readonly TransportRule[] = [
  { transport: 'udp', naptrService: 'SIP+D2U', srvPrefix: '_sip._udp', defaultPort: 5060, secure: false },
  { transport: 'tcp', naptrService: 'SIP+D2T', srvPrefix: '_sip._tcp', defaultPort: 5060, secure: false },
  { transport: 'tls', naptrService: 'SIPS+D2T', srvPrefix: '_sips._tcp', defaultPort: 5061, secure: true },
];

export interface ResolvedTarget<T extends string = string> {
  readonly transport: T;
  readonly address: string;
  readonly port: number;
  /** The URI's host (what TLS verifies, RFC 5922 §4.1), not the SRV target. */
  readonly domain: string;
}

export interface SipResolverOptions {
  readonly cache: DnsCache;
  readonly logger: Logger;
  readonly random?: RandomSource;
  /** Targets beyond this are dropped (default 16): bounds the failover of one request. */
  readonly maxTargets?: number;
}

/** At most this many SRV targets are expanded to addresses for one URI (each costs two lookups). */
const MAX_SRV_TARGETS = 8;

export class SipResolver {
  readonly #cache: DnsCache;
  readonly #logger: Logger;
  readonly #random: RandomSource;
  readonly #maxTargets: number;

  constructor(options: SipResolverOptions) {
    this.#cache = options.cache;
    this.#logger = options.logger;
    this.#random = options.random ?? Math.random;
    this.#maxTargets = options.maxTargets ?? 16;
  }

  /** The ordered targets for `uri`; throws DnsError (clear message) when there are none. */
  async resolve<T extends string>(uri: string, supported: readonly T[]): Promise<ResolvedTarget<T>[]> {
    const parsed = parseUri(uri.replace(/^<|>$/g, ''));
    if (parsed === undefined || parsed.host === '') throw new DnsError(`dns: not a SIP URI with a host`);
    const host = socketHost(parsed.host).replace(/\.$/, '').toLowerCase();
    const sips = parsed.scheme === 'sips';
    const rules = TRANSPORT_RULES.filter(
      (r) => (supported as readonly string[]).includes(r.transport) && (!sips || r.secure),
    );
    const param = parsed.params.get('transport')?.toLowerCase();
    // RFC 3261 §26.2.2: sips:…;transport=tcp means TLS over TCP.
    const wanted = sips && param === 'tcp' ? 'tls' : param;
    const forced = wanted === undefined ? undefined : rules.find((r) => r.transport === wanted);
    if (wanted !== undefined && forced === undefined) {
      throw new DnsError(`dns: transport "${wanted}" is not enabled for ${host}`);
    }
    // RFC 3263 §4.1: numeric host or explicit port without transport → UDP for sip:, TLS for sips:.
    const plain = forced ?? rules.find((r) => r.transport === (sips ? 'tls' : 'udp')) ?? rules[0];
    if (plain === undefined) throw new DnsError(`dns: no enabled transport can reach ${uri}`);
    const as = (rule: TransportRule, address: string, port: number): ResolvedTarget<T> => ({
      transport: rule.transport as T,
      address,
      port,
      domain: host,
    });
    if (isIP(host) !== 0) return [as(plain, host, parsed.port ?? plain.defaultPort)];
    if (parsed.port !== undefined) {
      const addresses = await this.#addresses(host);
      if (addresses.length === 0) throw new DnsError(`dns: no A/AAAA for ${host}`);
      return addresses.map((a) => as(plain, a, parsed.port ?? plain.defaultPort));
    }
    const found: ResolvedTarget<T>[] = [];
    const addSrv = async (rule: TransportRule, name: string): Promise<void> => {
      const srv = orderSrv(await this.#records<SrvRecord>(name, 'SRV'), this.#random);
      for (const record of srv.slice(0, MAX_SRV_TARGETS)) {
        for (const a of await this.#addresses(record.target)) found.push(as(rule, a, record.port));
      }
    };
    if (forced !== undefined) await addSrv(forced, `${forced.srvPrefix}.${host}`);
    else {
      const naptr = orderNaptr(
        await this.#records<NaptrRecord>(host, 'NAPTR'),
        rules.map((r) => r.naptrService),
      );
      for (const record of naptr) {
        const rule = rules.find((r) => r.naptrService === record.service);
        if (rule !== undefined) await addSrv(rule, record.replacement);
      }
      // §4.1: no (usable) NAPTR → SRV for each transport we support, in our preference order.
      if (naptr.length === 0) for (const rule of rules) await addSrv(rule, `${rule.srvPrefix}.${host}`);
    }
    // §4.2: no SRV either → the host's A/AAAA on the transport's default port.
    if (found.length === 0) {
      for (const a of await this.#addresses(host)) found.push(as(plain, a, plain.defaultPort));
    }
    const unique = dedupe(found).slice(0, this.#maxTargets);
    if (unique.length === 0) throw new DnsError(`dns: no NAPTR/SRV/A records for ${host}`);
    this.#logger.debug(
      { host, targets: unique.map((t) => `${t.transport}:${t.address}:${t.port}`) },
      'sip target resolved',
    );
    return unique;
  }

  async #records<R>(name: string, type: 'NAPTR' | 'SRV' | 'A' | 'AAAA'): Promise<R[]> {
    try {
      const answer = await this.#cache.lookup(name, type);
      // A recursive server puts the CNAME chain in the same answer: follow it (bounded by the answer's size).
      const owners = new Set([name.toLowerCase()]);
      for (const r of answer.answers) if (r.type === 'CNAME' && owners.has(r.name)) owners.add(r.target);
      return answer.answers.filter((r) => r.type === type && owners.has(r.name)) as R[];
    } catch (err) {
      // A server that does not answer one record type must not hide the others; the final "no records"
      // error says the name could not be resolved.
      this.#logger.debug({ err, name, type }, 'dns lookup failed');
      return [];
    }
  }

  async #addresses(name: string): Promise<string[]> {
    const [v4, v6] = await Promise.all([
      this.#records<AddressRecord>(name, 'A'),
      this.#records<AddressRecord>(name, 'AAAA'),
    ]);
    return [...v4, ...v6].map((r) => r.address);
  }
}

function dedupe<T extends ResolvedTarget>(targets: readonly T[]): T[] {
  const seen = new Set<string>();
  return targets.filter((t) => {
    const key = `${t.transport}|${t.address}|${t.port}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
