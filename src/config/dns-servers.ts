/** `DNS_SERVERS` (and the system resolver list): where the RFC 3263 resolver sends its queries. */
import { isIPv4, isIPv6 } from 'node:net';

export interface DnsServerAddress {
  readonly address: string;
  readonly port: number;
}

/** `host:port,…` (DNS_SERVERS); IPv6 with a port as `[::1]:53`. Returns undefined for an entry that is not an address. */
export function parseDnsServers(text: string): DnsServerAddress[] | undefined {
  const out: DnsServerAddress[] = [];
  for (const entry of text.split(',').map((s) => s.trim())) {
    if (entry === '') continue;
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)|([0-9A-Fa-f:]+))(?::([0-9]{1,5}))?$/.exec(entry);
    const v6 = m?.[1] ?? m?.[3];
    const address = v6 ?? m?.[2];
    if (m === null || address === undefined) return undefined;
    if (v6 !== undefined ? !isIPv6(v6) : !isIPv4(address)) return undefined;
    const port = m[4] === undefined ? 53 : Number(m[4]);
    if (port < 1 || port > 65_535) return undefined;
    out.push({ address, port });
  }
  return out.length === 0 ? undefined : out;
}
