/**
 * Which local address RTP sockets bind to (DESIGN.md §3 Media: "send from the address advertised in SDP").
 *
 * A socket bound to the wildcard (SIP_HOST=0.0.0.0, the default) sends from whatever address the kernel's
 * route picks — 127.0.0.1 toward a local peer — while SDP says SIP_PUBLIC_HOST. A peer that latches to its
 * SDP address (symmetric RTP done strictly, our softphone, many SBCs) then drops every packet: the README's
 * first call was silent on any host with a public interface address (issue 10). So when the advertised
 * address is one of this host's own, bind to it; when it is not (1:1 NAT, a cloud's public IP in front of a
 * private one), keep SIP_HOST: only the NAT can make packets carry that address.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** Every address configured on this host's interfaces (IPv6 without zone). */
export function localInterfaceAddresses(): Set<string> {
  const out = new Set<string>();
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) out.add(a.address.toLowerCase().replace(/%.*$/, ''));
  }
  return out;
}

/** Whether `address` is an IP literal this host can bind: an interface address, or any of 127.0.0.0/8 and ::1. */
export function isLocalAddress(
  address: string,
  local: ReadonlySet<string> = localInterfaceAddresses(),
): boolean {
  const kind = isIP(address);
  if (kind === 0) return false;
  const a = address.toLowerCase();
  // Linux routes the whole of 127/8 to lo (RFC 1122 §3.2.1.3), so every loopback address is bindable.
  if (kind === 4 && a.startsWith('127.')) return true;
  return a === '::1' || local.has(a);
}

/**
 * The bind address for RTP: the advertised media address when it is local, else `sipHost` (the address the
 * operator bound SIP to, often the wildcard).
 */
export function rtpBindAddress(
  advertised: string,
  sipHost: string,
  local: ReadonlySet<string> = localInterfaceAddresses(),
): string {
  return isLocalAddress(advertised, local) ? advertised : sipHost;
}
