import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * Addresses a tenant-supplied endpoint must never reach: everything that is not globally routable unicast
 * (RFC 6890 special-purpose registries), plus IPv6 forms that embed an IPv4 address and so can smuggle a
 * loopback or private target past an IPv4-only check (IPv4-mapped/compatible, NAT64, 6to4, Teredo).
 */
// Two lists: a BlockList checks an IPv4 address against IPv6 rules too (as ::ffff:a.b.c.d), so the
// IPv4-mapped prefix below would otherwise swallow every IPv4 address.
const SPECIAL_V4 = new BlockList();
const SPECIAL_V6 = new BlockList();
const V4: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network" (RFC 791); 0.0.0.0 reaches the local host on Linux
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // CGNAT shared space (RFC 6598); also Alibaba's metadata 100.100.100.200
  ['127.0.0.0', 8], // loopback (RFC 1122 §3.2.1.3)
  ['169.254.0.0', 16], // link-local (RFC 3927), cloud metadata 169.254.169.254
  ['172.16.0.0', 12], // private (RFC 1918)
  ['192.0.0.0', 24], // IETF protocol assignments (RFC 6890), incl. Oracle metadata 192.0.0.192
  ['192.0.2.0', 24], // TEST-NET-1 (RFC 5737)
  ['192.88.99.0', 24], // 6to4 relay anycast (RFC 7526)
  ['192.168.0.0', 16], // private (RFC 1918)
  ['198.18.0.0', 15], // benchmarking (RFC 2544)
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. 255.255.255.255 broadcast
];
const V6: ReadonlyArray<readonly [string, number]> = [
  ['::', 96], // unspecified, loopback ::1 and IPv4-compatible ::a.b.c.d (RFC 4291 §2.5.5.1, deprecated)
  ['::ffff:0:0', 96], // IPv4-mapped (RFC 4291 §2.5.5.2)
  ['64:ff9b::', 96], // NAT64 well-known prefix (RFC 6052): 64:ff9b::7f00:1 is 127.0.0.1 behind NAT64
  ['64:ff9b:1::', 48], // local-use NAT64 (RFC 8215)
  ['100::', 64], // discard-only (RFC 6666)
  ['2001::', 23], // IETF protocol assignments, incl. Teredo 2001::/32 (RFC 4380)
  ['2001:db8::', 32], // documentation (RFC 3849)
  ['2002::', 16], // 6to4 (RFC 3056): embeds an IPv4 address
  ['3fff::', 20], // documentation (RFC 9637)
  ['5f00::', 16], // SRv6 SIDs (RFC 9602)
  ['fc00::', 7], // unique local (RFC 4193), incl. AWS metadata fd00:ec2::254
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated, RFC 3879)
  ['ff00::', 8], // multicast
];
for (const [net, bits] of V4) SPECIAL_V4.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of V6) SPECIAL_V6.addSubnet(net, bits, 'ipv6');

/** True for an address literal that is not public unicast (or is not an IP address at all). */
export function isSpecialAddress(address: string): boolean {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  // A zone index (fe80::1%eth0) names an interface: only ever link-local, never a public endpoint.
  if (bare.includes('%')) return true;
  if (isIPv4(bare)) return SPECIAL_V4.check(bare, 'ipv4');
  if (isIPv6(bare)) return SPECIAL_V6.check(bare, 'ipv6');
  return true;
}
