/**
 * A tiny reader for classic libpcap files (not pcapng): Ethernet (linktype 1) or raw IPv4 (101) frames
 * carrying IPv4/UDP. Enough to replay sipp's RTP captures in tests.
 */
import { readFileSync } from 'node:fs';

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
