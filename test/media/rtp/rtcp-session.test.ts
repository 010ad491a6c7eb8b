/**
 * RtcpSession on real loopback sockets: the RTCP port shares the RTP latch (foreign sources dropped), our
 * reports follow the peer's RTCP source port, LSR/DLSR echo the peer's SR, RTT from the peer's block on our
 * SR, rtcp-mux on the RTP port, garbage counted, a BYE at close, and the transform hook (SRTCP) applied
 * both ways. The peer side is hand-written with the independent reader of test/support/rtcp-reference.ts.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { serializeRtp } from '../../../src/media/rtp/packet.js';
import { PortPool } from '../../../src/media/rtp/port-pool.js';
import { RtcpSession, type RtcpSource, type RtcpTransform } from '../../../src/media/rtp/rtcp-session.js';
import { RtpSocket } from '../../../src/media/rtp/socket.js';
import { eventually } from '../../support/eventually.js';
import { decodeRtcp, type RefCompound } from '../../support/rtcp-reference.js';

const US = '127.0.0.164';
const PEER = '127.0.0.165';
const FOREIGN = '127.0.0.166';
const pool = new PortPool({ minPort: 56920, maxPort: 56959, rtcp: true });
const PEER_SSRC = 0xa1b2c3d4;
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanup.splice(0).reverse()) fn();
});

async function udp(address: string): Promise<Socket & { got: Buffer[] }> {
  const s = Object.assign(createSocket('udp4'), { got: [] as Buffer[] });
  await new Promise<void>((resolve) => s.bind(0, address, resolve));
  s.on('message', (m) => s.got.push(m));
  cleanup.push(() => s.close());
  return s;
}

function send(from: Socket, port: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => from.send(buf, port, US, (e) => (e ? reject(e) : resolve())));
}

const source: RtcpSource = {
  ssrc: 0x0bad_cafe,
  clockRateHz: 8000,
  rtpTimestampNow: () => 123_456,
  packetsSent: 50,
  payloadOctetsSent: 8000,
  receptionJitterMs: 2.5,
  receiveDelayMs: 60,
};

/** An SR from the peer (RC 0) with NTP seconds/fraction, or an RR with one block on `ssrc`. */
function peerSr(ntpHi: number, ntpLo: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt32BE(0x80c80006, 0);
  b.writeUInt32BE(PEER_SSRC, 4);
  b.writeUInt32BE(ntpHi, 8);
  b.writeUInt32BE(ntpLo, 12);
  b.writeUInt32BE(777, 24);
  return b;
}
function peerRr(block: { ssrc: number; fraction: number; lost: number; lsr: number; dlsr: number }): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt32BE(0x81c90007, 0);
  b.writeUInt32BE(PEER_SSRC, 4);
  b.writeUInt32BE(block.ssrc, 8);
  b.writeUInt32BE((((block.fraction & 0xff) << 24) | (block.lost & 0xffffff)) >>> 0, 12);
  b.writeUInt32BE(40, 20); // jitter 40 units = 5 ms at 8 kHz
  b.writeUInt32BE(block.lsr, 24);
  b.writeUInt32BE(block.dlsr, 28);
  return b;
}

async function setup(mux: boolean, transform?: RtcpTransform) {
  const rtp = await RtpSocket.open({ pool, host: US });
  cleanup.push(() => rtp.close());
  const peerRtp = await udp(PEER);
  const peerRtcp = await udp(PEER);
  const peerPort = peerRtp.address().port;
  rtp.setRemote(PEER, peerPort);
  const session = new RtcpSession({
    socket: rtp,
    source,
    remote: { mux, rtpAddress: PEER, rtpPort: peerPort, rtcpPort: mux ? peerPort : peerPort + 1 },
    intervalMs: 200,
    random: () => 0.5,
    ...(transform === undefined ? {} : { transform }),
  });
  cleanup.push(() => session.close());
  // Latch RTP (3 consecutive packets: probation), then 17 more with seq 13 and 14 missing.
  for (let seq = 10; seq < 30; seq++) {
    if (seq === 13 || seq === 14) continue;
    await send(
      peerRtp,
      rtp.port,
      serializeRtp(
        { payloadType: 0, marker: false, sequence: seq, timestamp: seq * 160, ssrc: PEER_SSRC },
        Buffer.alloc(160),
      ),
    );
  }
  await eventually(() => expect(rtp.latched).toBe(true), 3000);
  return {
    rtp,
    session,
    peerRtp,
    peerRtcp,
    toUs: mux ? rtp.port : rtp.port + 1,
    from: mux ? peerRtp : peerRtcp,
  };
}

const compounds = (s: { got: Buffer[] }): Omit<RefCompound, 'arrivalMs' | 'from'>[] =>
  s.got.filter((m) => (m[1] ?? 0) >= 200 && (m[1] ?? 0) <= 204).map((m) => decodeRtcp(m));

describe('RtcpSession', () => {
  it('port + 1: latch shared with RTP, reports follow the peer, LSR/DLSR and RTT, BYE at close', async () => {
    const { rtp, session, peerRtp, peerRtcp, toUs } = await setup(false);
    // A foreign source and garbage on the RTCP port: dropped and counted, nothing parsed.
    const foreign = await udp(FOREIGN);
    await send(foreign, toUs, peerRr({ ssrc: source.ssrc, fraction: 200, lost: 999, lsr: 0, dlsr: 0 }));
    await send(peerRtcp, toUs, Buffer.from('81c90007deadbeef', 'hex'));
    await eventually(() => expect(session.stats()).toMatchObject({ foreignDropped: 1, malformed: 1 }), 3000);
    // The peer's SR: our next report carries LSR = its middle NTP bits and a DLSR, to its RTCP port.
    await send(peerRtcp, toUs, peerSr(0xe000_1234, 0x5678_0000));
    await eventually(
      () => expect(compounds(peerRtcp).some((c) => c.blocks[0]?.lsr === 0x1234_5678)).toBe(true),
      3000,
    );
    const ours = compounds(peerRtcp).find((c) => c.blocks[0]?.lsr === 0x1234_5678)!;
    expect(ours.types.slice(0, 2)).toEqual([200, 202]); // an SR: the source says we sent RTP
    expect(ours.sr).toMatchObject({ rtpTs: 123_456, packets: 50, octets: 8000 });
    const block = ours.blocks[0]!;
    expect(block.ssrc).toBe(PEER_SSRC);
    // 18 sequence numbers from the latched packet (seq 12; 10 and 11 were probation) to 29: 2 missing.
    expect(block.highest).toBe(29);
    expect(block.lost).toBe(2);
    expect(block.jitter).toBe(20); // 2.5 ms at 8 kHz
    expect(block.dlsr).toBeGreaterThan(0);
    expect(block.dlsr).toBeLessThan(5 * 65536);
    // Nothing went to the SDP's port + 1 guess once the peer's RTCP port was known; RTP socket got no RTCP.
    expect(peerRtp.got.filter((m) => (m[1] ?? 0) >= 200 && (m[1] ?? 0) <= 204)).toHaveLength(0);
    // The peer's RR on our SR: RTT = A − LSR − DLSR. Use our SR's NTP with a DLSR of 0: RTT ≈ transit.
    const sr = ours.sr!;
    const lsr = (((sr.ntpHi & 0xffff) << 16) | (sr.ntpLo >>> 16)) >>> 0;
    await send(peerRtcp, toUs, peerRr({ ssrc: source.ssrc, fraction: 26, lost: 7, lsr, dlsr: 0 }));
    await eventually(() => expect(session.stats().rtt?.samples).toBe(1), 3000);
    const stats = session.stats();
    // Our SR left ≤ 1 s ago on a loaded machine; the RTT is that holding time (DLSR 0), never negative.
    expect(stats.rtt!.lastMs).toBeGreaterThanOrEqual(0);
    expect(stats.rtt!.lastMs).toBeLessThan(5000);
    expect(stats.remote).toMatchObject({ fractionLost: 0.1016, cumulativeLost: 7, jitterMs: 5 });
    expect(stats.inbound).toMatchObject({ packetsExpected: 18, packetsLost: 2 });
    expect(stats.reportsReceived).toBe(2);
    // Close: a last compound with a BYE.
    const before = peerRtcp.got.length;
    session.close('done');
    await eventually(() => expect(peerRtcp.got.length).toBeGreaterThan(before), 3000);
    expect(compounds(peerRtcp).at(-1)!.types.at(-1)).toBe(203);
    expect(rtp.counters.rtcpIgnored).toBe(0);
  });

  it('rtcp-mux: reports in and out on the RTP port, only from the latched source; transform applied', async () => {
    // A toy transform (XOR of the bytes after the first 8, plus a 4-byte trailer) stands in for SRTCP.
    const xor = (b: Buffer, from: number, to: number): void => {
      for (let i = from; i < to; i++) b[i] = b[i]! ^ 0x5a;
    };
    let unprotected = 0;
    const transform: RtcpTransform = {
      protect: (b, n) => {
        xor(b, 8, n);
        b.writeUInt32BE(0xfeedf00d, n);
        return n + 4;
      },
      unprotect: (b, n) => {
        if (n < 12 || b.readUInt32BE(n - 4) !== 0xfeedf00d) return -1;
        xor(b, 8, n - 4);
        unprotected++;
        return n - 4;
      },
    };
    const protect = (plain: Buffer): Buffer => {
      const b = Buffer.alloc(plain.length + 4);
      plain.copy(b);
      transform.protect(b, plain.length);
      return b;
    };
    const { session, peerRtp, peerRtcp, toUs } = await setup(true, transform);
    await send(peerRtp, toUs, protect(peerSr(0xe000_0001, 0x0002_0000)));
    await send(peerRtp, toUs, peerSr(0xe000_0001, 0x0002_0000)); // unprotected: refused by the transform
    await eventually(() => expect(session.stats()).toMatchObject({ reportsReceived: 1, malformed: 1 }), 3000);
    expect(unprotected).toBe(1);
    // Ours arrive on the peer's RTP port, protected: undo the toy transform and read them.
    const ours = (): Omit<RefCompound, 'arrivalMs' | 'from'>[] =>
      peerRtp.got
        .filter((m) => (m[1] ?? 0) === 200 || (m[1] ?? 0) === 201)
        .map((m) => {
          const b = Buffer.from(m);
          expect(transform.unprotect(b, b.length)).toBe(b.length - 4);
          return decodeRtcp(b.subarray(0, b.length - 4));
        });
    await eventually(() => expect(ours().some((c) => c.blocks[0]?.lsr === 0x0001_0002)).toBe(true), 3000);
    expect(ours()[0]!.types.slice(0, 2)).toEqual([200, 202]);
    expect(peerRtcp.got).toHaveLength(0);
    expect(session.stats().mux).toBe(true);
  });
});
