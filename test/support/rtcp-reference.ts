/**
 * An independent RTCP reader for tests (not src/media/rtp/rtcp-packet.ts, which would hide its own bugs):
 * walks a compound by the common header's length field and decodes SR/RR/SDES/BYE at the byte offsets of
 * RFC 3550 §6.4–§6.6, plus a UDP socket that keeps every compound it receives with its arrival time.
 */
import type { Socket } from 'node:dgram';
import { bindUdp4 } from './rtp-peer.js';

export interface RefBlock {
  ssrc: number;
  fraction: number;
  lost: number;
  highest: number;
  jitter: number;
  lsr: number;
  dlsr: number;
}

export interface RefCompound {
  /** Packet types in order (200 SR, 201 RR, 202 SDES, 203 BYE …). */
  types: number[];
  ssrc: number;
  sr?: { ntpHi: number; ntpLo: number; rtpTs: number; packets: number; octets: number };
  blocks: RefBlock[];
  cname?: string;
  bye: boolean;
  arrivalMs: number;
  from: { address: string; port: number };
  bytes: number;
}

/** Decodes one datagram; throws on anything that does not walk cleanly (the test then fails loudly). */
export function decodeRtcp(buf: Buffer): Omit<RefCompound, 'arrivalMs' | 'from'> {
  const out: Omit<RefCompound, 'arrivalMs' | 'from'> = {
    types: [],
    ssrc: buf.readUInt32BE(4),
    blocks: [],
    bye: false,
    bytes: buf.length,
  };
  let at = 0;
  for (let guard = 0; at < buf.length && guard < 64; guard++) {
    const count = buf[at]! & 0x1f;
    const type = buf[at + 1]!;
    const words = buf.readUInt16BE(at + 2);
    if ((buf[at]! & 0xc0) !== 0x80) throw new Error(`RTCP version ≠ 2 at ${at}`);
    out.types.push(type);
    let p = at + 8;
    if (type === 200) {
      out.sr = {
        ntpHi: buf.readUInt32BE(p),
        ntpLo: buf.readUInt32BE(p + 4),
        rtpTs: buf.readUInt32BE(p + 8),
        packets: buf.readUInt32BE(p + 12),
        octets: buf.readUInt32BE(p + 16),
      };
      p += 20;
    }
    if (type === 200 || type === 201) {
      for (let i = 0; i < count; i++, p += 24) {
        const lost24 = (buf[p + 5]! << 16) | (buf[p + 6]! << 8) | buf[p + 7]!;
        out.blocks.push({
          ssrc: buf.readUInt32BE(p),
          fraction: buf[p + 4]!,
          lost: lost24 & 0x800000 ? lost24 - 0x1000000 : lost24,
          highest: buf.readUInt32BE(p + 8),
          jitter: buf.readUInt32BE(p + 12),
          lsr: buf.readUInt32BE(p + 16),
          dlsr: buf.readUInt32BE(p + 20),
        });
      }
    }
    if (type === 202 && buf[at + 8] === 1) out.cname = buf.toString('utf8', at + 10, at + 10 + buf[at + 9]!);
    if (type === 203) out.bye = true;
    at += (words + 1) * 4;
  }
  if (at !== buf.length) throw new Error(`RTCP lengths add up to ${at}, datagram is ${buf.length}`);
  return out;
}

/** Binds `address:port` and decodes every RTCP datagram that arrives (RTP ones are counted apart). */
export class RtcpCapture {
  readonly compounds: RefCompound[] = [];
  readonly errors: string[] = [];
  rtpPackets = 0;
  readonly #socket: Socket;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (msg, rinfo) => {
      const pt = msg[1] ?? 0;
      if (msg.length < 8 || pt < 192 || pt > 223) {
        this.rtpPackets++;
        return;
      }
      try {
        const c = decodeRtcp(msg);
        this.compounds.push({
          ...c,
          arrivalMs: performance.now(),
          from: { address: rinfo.address, port: rinfo.port },
        });
      } catch (err) {
        this.errors.push((err as Error).message);
      }
    });
  }

  get socket(): Socket {
    return this.#socket;
  }

  static async open(address: string, port: number): Promise<RtcpCapture> {
    return new RtcpCapture(await bindUdp4(address, port));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

/** The `rtp` object of the server's 'call ended' log line (the last one), parsed from its JSON logs. */
export function callEndedRtp(logs: readonly string[]): Record<string, any> | undefined {
  for (let i = logs.length - 1; i >= 0; i--) {
    const line = logs[i]!;
    if (!line.includes('"call ended"')) continue;
    return (JSON.parse(line) as { rtp?: Record<string, any> }).rtp;
  }
  return undefined;
}
