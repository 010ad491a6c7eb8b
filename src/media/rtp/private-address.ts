/**
 * Addresses a peer behind NAT would put in SDP that we cannot see as a packet source: RFC 1918, RFC 6598
 * shared space, link-local, and IPv6 ULA/link-local. Loopback is not private here (tests and local peers).
 */
export function isPrivateAddress(address: string): boolean {
  const lower = address.toLowerCase();
  if (lower.includes(':')) {
    return lower === '::1' || lower.startsWith('fc') || lower.startsWith('fd') || lower.startsWith('fe80:');
  }
  const parts = address.split('.');
  const a = Number(parts[0]);
  const b = Number(parts[1]);
  if (a === 10) return true;
  // Loopback: a host answers from any 127/8 address whatever it wrote in its SDP (baresip does this).
  if (a === 127) return true;
  if (a === 172 && b >= 16 && b <= 31) return true;
  if (a === 192 && b === 168) return true;
  if (a === 100 && b >= 64 && b <= 127) return true;
  if (a === 169 && b === 254) return true;
  return false;
}
