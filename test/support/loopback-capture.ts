/**
 * tcpdump (Debian `tcpdump`) on the loopback interface as an independent witness of what went over the wire:
 * the UDP datagrams a pcap filter selects, read back with pcap.ts. Linux loopback frames carry an
 * Ethernet header (linktype 1). A tcpdump that cannot start (missing, no CAP_NET_RAW) throws: the test
 * fails, never skips. Also a minimal RTP header reader (RFC 3550 §5.1), written apart from src/media/rtp.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPcapUdp, type UdpDatagram } from './pcap.js';
import { PeerProcess } from './peer-process.js';

export class LoopbackCapture {
  private constructor(
    private readonly process: PeerProcess,
    private readonly dir: string,
    private readonly file: string,
  ) {}

  /**
   * Starts capturing; resolves once tcpdump is listening. `filter` is a pcap filter expression, e.g.
   * `udp and (host 127.0.0.150 or portrange 55100-55139)`.
   */
  static async start(filter: string): Promise<LoopbackCapture> {
    const dir = await mkdtemp(join(tmpdir(), 'loopback-capture-'));
    const file = join(dir, 'capture.pcap');
    // -U: write each packet as it arrives, so SIGTERM loses nothing; -s 0: whole datagrams.
    const tcpdump = new PeerProcess({
      command: 'tcpdump',
      args: ['-i', 'lo', '-n', '-U', '-s', '0', '-w', file, filter],
      cwd: dir,
    });
    try {
      await tcpdump.waitFor(/listening on lo/, 15_000);
    } catch (err) {
      await tcpdump.stop();
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return new LoopbackCapture(tcpdump, dir, file);
  }

  /** Stops tcpdump and returns the datagrams it captured. */
  async stop(): Promise<UdpDatagram[]> {
    await this.process.stop();
    try {
      return readPcapUdp(this.file);
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}

export interface RtpHeader {
  readonly payloadType: number;
  readonly marker: boolean;
  readonly sequence: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly payloadBytes: number;
}

/** The fixed RTP header of a datagram (CSRCs and one extension skipped), or undefined when it is not RTP v2. */
export function readRtpHeader(datagram: Buffer): RtpHeader | undefined {
  if (datagram.length < 12 || (datagram[0] ?? 0) >> 6 !== 2) return undefined;
  const payloadType = (datagram[1] ?? 0) & 0x7f;
  // RTCP (RFC 5761 §4: PT 64–95 in this position) is not RTP.
  if (payloadType >= 64 && payloadType <= 95) return undefined;
  let offset = 12 + 4 * ((datagram[0] ?? 0) & 0x0f);
  if (((datagram[0] ?? 0) & 0x10) !== 0 && datagram.length >= offset + 4) {
    offset += 4 + 4 * datagram.readUInt16BE(offset + 2);
  }
  const padding = ((datagram[0] ?? 0) & 0x20) !== 0 ? (datagram[datagram.length - 1] ?? 0) : 0;
  return {
    payloadType,
    marker: ((datagram[1] ?? 0) & 0x80) !== 0,
    sequence: datagram.readUInt16BE(2),
    timestamp: datagram.readUInt32BE(4),
    ssrc: datagram.readUInt32BE(8),
    payloadBytes: datagram.length - offset - padding,
  };
}

/** RTP packets sent from (`'from'`) or to (`'to'`) a peer's RTP port range, in capture order. */
export function rtpPackets(
  datagrams: readonly UdpDatagram[],
  ports: readonly [number, number],
  direction: 'from' | 'to',
): RtpHeader[] {
  const out: RtpHeader[] = [];
  for (const d of datagrams) {
    const port = direction === 'from' ? d.srcPort : d.dstPort;
    const h = port >= ports[0] && port <= ports[1] ? readRtpHeader(d.payload) : undefined;
    if (h !== undefined) out.push(h);
  }
  return out;
}

/**
 * Timestamp step per sequence step between consecutive packets of one SSRC (loss allowed), split by the
 * marker bit: inside a talkspurt the step is one packet's duration; the first packet of a talkspurt
 * (marker set, RFC 3551 §4.1) may jump over the silence that was not sent.
 */
export function timestampSteps(packets: readonly RtpHeader[]): { inSpurt: number[]; spurtStarts: number[] } {
  const inSpurt: number[] = [];
  const spurtStarts: number[] = [];
  for (let i = 1; i < packets.length; i++) {
    const a = packets[i - 1]!;
    const b = packets[i]!;
    if (a.ssrc !== b.ssrc) continue;
    const seqDelta = (b.sequence - a.sequence) & 0xffff;
    if (seqDelta === 0 || seqDelta > 100) continue;
    const step = ((b.timestamp - a.timestamp) >>> 0) / seqDelta;
    (b.marker ? spurtStarts : inSpurt).push(step);
  }
  return { inSpurt, spurtStarts };
}
