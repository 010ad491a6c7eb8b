import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * Parse `allow_from` entries (CIDRs or single addresses, IPv4 or IPv6) into a BlockList used as an allow
 * list. Throws with the offending entry so the dialplan loader can name it.
 */
export function parseAllowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, bitsText] = entry.split('/');
    const family =
      addr !== undefined && isIPv4(addr) ? 'ipv4' : addr !== undefined && isIPv6(addr) ? 'ipv6' : undefined;
    if (addr === undefined || family === undefined)
      throw new Error(`"${entry}" is not an IP address or CIDR`);
    if (bitsText === undefined) {
      list.addAddress(addr, family);
      continue;
    }
    const bits = Number(bitsText);
    const max = family === 'ipv4' ? 32 : 128;
    if (!/^\d+$/.test(bitsText) || bits > max) throw new Error(`"${entry}" has an invalid prefix length`);
    list.addSubnet(addr, bits, family);
  }
  return list;
}

/** True when `address` (as reported by the socket, possibly IPv4-mapped IPv6) is in the list. */
export function addressAllowed(list: BlockList, address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const plain = mapped?.[1] ?? address;
  if (isIPv4(plain)) return list.check(plain, 'ipv4');
  if (isIPv6(plain)) return list.check(plain, 'ipv6');
  return false;
}
