/**
 * A tiny reader for classic libpcap files (not pcapng): Ethernet (linktype 1) or raw IPv4 (101) frames
 * carrying IPv4/UDP. Enough to replay sipp's RTP captures in tests.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface UdpDatagram {
  /** Capture time in microseconds since the epoch. */
  readonly timeUs: number;
  readonly srcAddress: string;
  readonly srcPort: number;
  readonly dstAddress: string;
  readonly dstPort: number;
  readonly payload: Buffer;
}

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;

/** Reads every IPv4/UDP datagram of a pcap file; other frames are skipped. Throws on a bad file header. */
export function readPcapUdp(path: string): UdpDatagram[] {
  const buf = readFileSync(path);
  if (buf.length < 24) throw new Error(`${path}: not a pcap file`);
  const magic = buf.readUInt32LE(0);
  let le: boolean;
  let nanos = false;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error(`${path}: bad pcap magic ${magic.toString(16)}`);
  if (magic === 0xa1b23c4d || magic === 0x4d3cb2a1) nanos = true;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linkType = u32(20) & 0xffff;
  const out: UdpDatagram[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    off += 16;
    if (off + incl > buf.length) break; // truncated capture
    const frame = buf.subarray(off, off + incl);
    off += incl;
    let ip = 0;
    if (linkType === LINKTYPE_ETHERNET) {
      if (frame.length < 14) continue;
      let etherType = frame.readUInt16BE(12);
      ip = 14;
      if (etherType === 0x8100 && frame.length >= 18) {
        etherType = frame.readUInt16BE(16); // 802.1Q VLAN tag
        ip = 18;
      }
      if (etherType !== 0x0800) continue;
    } else if (linkType !== LINKTYPE_RAW) {
      throw new Error(`${path}: unsupported linktype ${linkType}`);
    }
    if (frame.length < ip + 20 || (frame[ip] ?? 0) >> 4 !== 4) continue;
    const ihl = ((frame[ip] ?? 0) & 0x0f) * 4;
    if (frame[ip + 9] !== 17) continue; // not UDP
    const udp = ip + ihl;
    if (frame.length < udp + 8) continue;
    const udpLength = frame.readUInt16BE(udp + 4);
    const end = Math.min(frame.length, udp + udpLength);
    out.push({
      timeUs: sec * 1e6 + (nanos ? Math.floor(frac / 1000) : frac),
      srcAddress: frame.subarray(ip + 12, ip + 16).join('.'),
      dstAddress: frame.subarray(ip + 16, ip + 20).join('.'),
      srcPort: frame.readUInt16BE(udp),
      dstPort: frame.readUInt16BE(udp + 2),
      payload: Buffer.from(frame.subarray(udp + 8, end)),
    });
  }
  return out;
}

/** One datagram to write with {@link writePcapUdp} (the shape readPcapUdp returns). */
export type PcapDatagram = UdpDatagram;

function ipv4Bytes(address: string): number[] {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new Error(`not an IPv4 address: ${address}`);
  return parts;
}

/**
 * Writes a classic libpcap file (Ethernet, linktype 1) of IPv4/UDP datagrams — what sipp's
 * `play_pcap_audio` replays (it rewrites addresses and ports, keeps payloads and the gaps between packets).
 */
export function writePcapUdp(path: string, datagrams: readonly PcapDatagram[]): void {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  const chunks: Buffer[] = [header];
  for (const d of datagrams) {
    const udpLength = 8 + d.payload.length;
    const frame = Buffer.alloc(14 + 20 + udpLength);
    frame.writeUInt16BE(0x0800, 12); // IPv4
    const ip = 14;
    frame[ip] = 0x45;
    frame.writeUInt16BE(20 + udpLength, ip + 2);
    frame[ip + 8] = 64; // TTL
    frame[ip + 9] = 17; // UDP
    Buffer.from(ipv4Bytes(d.srcAddress)).copy(frame, ip + 12);
    Buffer.from(ipv4Bytes(d.dstAddress)).copy(frame, ip + 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += frame.readUInt16BE(ip + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    frame.writeUInt16BE(~sum & 0xffff, ip + 10);
    const udp = ip + 20;
    frame.writeUInt16BE(d.srcPort, udp);
    frame.writeUInt16BE(d.dstPort, udp + 2);
    frame.writeUInt16BE(udpLength, udp + 4); // checksum 0: none (sipp recomputes it)
    d.payload.copy(frame, udp + 8);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(d.timeUs / 1e6), 0);
    rec.writeUInt32LE(Math.round(d.timeUs % 1e6), 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    chunks.push(rec, frame);
  }
  writeFileSync(path, Buffer.concat(chunks));
}
