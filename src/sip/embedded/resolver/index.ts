/**
 * RFC 3263 resolution for the embedded backend: `dns-message` (wire format) → `dns-client` (UDP stub
 * resolver) → `dns-cache` (TTL) → `select` (NAPTR/SRV order) → `sip-resolver` (the §4 procedure).
 */
import type { Logger } from '../../../observability/logger.js';
import { DnsCache } from './dns-cache.js';
import { DnsClient, type DnsServer } from './dns-client.js';
import { SipResolver } from './sip-resolver.js';

export { DnsCache, type CachedAnswer } from './dns-cache.js';
export { DnsClient, DnsError, type DnsQuerier, type DnsServer } from './dns-client.js';
export { SipResolver, TRANSPORT_RULES, type ResolvedTarget, type TransportRule } from './sip-resolver.js';

/** The resolver `main.ts` wires over `servers` (DNS_SERVERS, else the system's /etc/resolv.conf list). */
export function createSipResolver(options: {
  readonly servers: readonly DnsServer[];
  readonly logger: Logger;
}): SipResolver {
  const cache = new DnsCache(new DnsClient({ servers: options.servers }));
  return new SipResolver({ cache, logger: options.logger.child({ component: 'dns' }) });
}
