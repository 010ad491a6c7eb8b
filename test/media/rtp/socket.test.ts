import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { telephoneEventPackets } from '../../../src/media/rtp/dtmf.js';
import { serializeRtp, type RtpPacket } from '../../../src/media/rtp/packet.js';
import { PortPool } from '../../../src/media/rtp/port-pool.js';
import { isPrivateAddress, RtpSocket, type RtpSocketOptions } from '../../../src/media/rtp/socket.js';

const HOST = '127.0.0.1';
const pool = new PortPool({ minPort: 41300, maxPort: 41399 });
const cleanup: (() => void)[] = [];

afterEach(() => {
  for (const fn of cleanup.splice(0)) fn();
});

async function open(options: Partial<RtpSocketOptions> = {}): Promise<RtpSocket> {
  const s = await RtpSocket.open({ pool, host: HOST, ...options });
  cleanup.push(() => s.close());
  return s;
}

async function peer(address = HOST): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, address, resolve));
  cleanup.push(() => s.close());
  return s;
}

function rtp(sequence: number, payload = Buffer.from([1, 2, 3, 4]), ssrc = 7): Buffer {
  return serializeRtp({ payloadType: 0, marker: false, sequence, timestamp: sequence * 160, ssrc }, payload);
}

function sendTo(from: Socket, to: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => from.send(buf, to, HOST, (err) => (err ? reject(err) : resolve())));
}

/** Sends packets `first..first+n-1` (consecutive: enough to pass probation when n ≥ 3). */
async function sendRun(from: Socket, to: number, first: number, n: number, ssrc = 7): Promise<void> {
  for (let i = 0; i < n; i++) await sendTo(from, to, rtp(first + i, undefined, ssrc));
}

/** Resolves after `n` packet events, collecting copies of the fields (the packet object is reused). */
function collect(s: RtpSocket, n: number): Promise<{ seq: number; port: number; payload: Buffer }[]> {
  const got: { seq: number; port: number; payload: Buffer }[] = [];
  return new Promise((resolve) => {
    const onPacket = (p: RtpPacket, r: RemoteInfo): void => {
      got.push({
        seq: p.sequence,
        port: r.port,
        payload: Buffer.from(p.buffer.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength)),
      });
      if (got.length === n) {
        s.off('packet', onPacket);
        resolve(got);
      }
    };
    s.on('packet', onPacket);
  });
}

const settle = (ms = 30): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded: 2 s) until the socket has counted `n` datagrams of any kind: nothing is still in flight. */
async function seen(s: RtpSocket, n: number): Promise<void> {
  const c = s.counters;
  for (let i = 0; i < 200; i++) {
    if (c.packetsReceived + c.foreignDropped + c.probationRejected + c.malformed + c.rtcpIgnored >= n) return;
    await settle(10);
  }
}

describe('RtpSocket', () => {
  it('binds an even port from the pool and releases it on close (idempotent)', async () => {
    const before = pool.inUse;
    const s = await RtpSocket.open({ pool, host: HOST });
    expect(s.port % 2).toBe(0);
    expect(pool.inUse).toBe(before + 1);
    let closes = 0;
    s.on('close', () => closes++);
    s.close();
    s.close();
    expect(closes).toBe(1);
    expect(pool.inUse).toBe(before);
    expect(s.send(Buffer.alloc(12), 12)).toBe(false);
  });

  it('latches after three consecutive packets of one source and delivers nothing before', async () => {
    const s = await open({ signalingAddress: HOST });
    s.setRemote(HOST, 9); // SDP port differs from the real source port (NAT rewrite)
    const a = await peer();
    const b = await peer();
    const latched = once(s, 'latched');
    const first = collect(s, 2);
    await sendRun(a, s.port, 1, 3);
    expect(await latched).toEqual([HOST, a.address().port]);
    await sendRun(b, s.port, 100, 5, 8); // another stream from another port: never delivered
    await sendTo(a, s.port, rtp(4));
    const got = await first;
    expect(got.map((g) => g.seq)).toEqual([3, 4]);
    expect(got[0]!.payload).toEqual(Buffer.from([1, 2, 3, 4]));
    await seen(s, 9);
    expect(s.counters.probationRejected).toBe(2);
    expect(s.counters.foreignDropped).toBe(5);
    expect(s.counters.packetsReceived).toBe(2);
    expect(s.remote).toEqual({ address: HOST, port: a.address().port });
  });

  it('sends to the SDP address before latching and to the latched source after (symmetric RTP)', async () => {
    const s = await open();
    const sdpPeer = await peer();
    const natPeer = await peer();
    s.setRemote(HOST, sdpPeer.address().port);
    const pkt = rtp(5);
    const atSdp = once(sdpPeer, 'message');
    expect(s.send(pkt, pkt.length)).toBe(true);
    const [msg, rinfo] = (await atSdp) as [Buffer, RemoteInfo];
    expect(msg).toEqual(pkt);
    expect(rinfo.port).toBe(s.port); // sent from the RTP port itself
    const latched = once(s, 'latched');
    await sendRun(natPeer, s.port, 1, 3);
    await latched;
    const atNat = once(natPeer, 'message');
    s.send(pkt, 12); // only the header
    const [msg2] = (await atNat) as [Buffer];
    expect(msg2.length).toBe(12);
    expect(s.counters.packetsSent).toBe(2);
    expect(s.counters.bytesSent).toBe(pkt.length + 12);
  });

  it('with a public SDP address, sources from elsewhere are not latched (sdp-only)', async () => {
    const s = await open({ latchPolicy: 'sdp-only' });
    s.setRemote('192.0.2.10', 4000); // TEST-NET: never our source
    const a = await peer();
    await sendTo(a, s.port, rtp(1));
    await seen(s, 1);
    expect(s.latched).toBe(false);
    expect(s.counters.foreignDropped).toBe(1);
  });

  it('latches to the first source when the SDP address is private (behind NAT) or unknown', async () => {
    for (const sdp of ['10.0.0.5', '0.0.0.0']) {
      const s = await open();
      s.setRemote(sdp, 4000);
      const a = await peer();
      const latched = once(s, 'latched');
      await sendRun(a, s.port, 1, 3);
      expect((await latched)[1]).toBe(a.address().port);
    }
  });

  it('counts malformed packets and RTCP without emitting or latching', async () => {
    const s = await open();
    const a = await peer();
    let packets = 0;
    s.on('packet', () => packets++);
    await sendTo(a, s.port, Buffer.from([0x80, 0, 1])); // truncated
    await sendTo(a, s.port, Buffer.from([0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1])); // version 1
    await sendTo(a, s.port, Buffer.from([0x81, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0])); // RTCP SR
    await seen(s, 3);
    expect(s.counters.malformed).toBe(2);
    expect(s.counters.rtcpIgnored).toBe(1);
    expect(s.latched).toBe(false);
    expect(packets).toBe(0);
    const got = collect(s, 1);
    await sendRun(a, s.port, 9, 3);
    expect((await got)[0]!.seq).toBe(11);
  });

  it('re-latches when the SDP address changes (re-INVITE)', async () => {
    const s = await open({ latchPolicy: 'first-source' });
    s.setRemote(HOST, 4000);
    const a = await peer();
    const b = await peer();
    const first = once(s, 'latched');
    await sendRun(a, s.port, 1, 3);
    await first;
    s.setRemote('127.0.0.2', 4000);
    expect(s.latched).toBe(false);
    const latched = once(s, 'latched');
    await sendRun(b, s.port, 2, 3, 9);
    expect((await latched)[1]).toBe(b.address().port);
  });

  it('emits timeout after inactivity, once, and again after traffic resumes', async () => {
    const s = await open({ inactivityTimeoutMs: 100 });
    const a = await peer();
    let timeouts = 0;
    s.on('timeout', () => timeouts++);
    const t0 = performance.now();
    await once(s, 'timeout');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    await settle(150);
    expect(timeouts).toBe(1);
    // Packets keep it alive: 8 packets ~20 ms apart span 160 ms (> the timeout) without a timeout, as long
    // as no gap reaches 100 ms (generous on a loaded machine).
    for (let i = 0; i < 8; i++) {
      await sendTo(a, s.port, rtp(i));
      await settle(20);
    }
    expect(timeouts).toBe(1);
    await once(s, 'timeout');
    expect(timeouts).toBe(2);
  });
});

describe('RtpSocket telephone-event and IPv6', () => {
  it('emits dtmf once per RFC 4733 event and still emits the packets', async () => {
    const s = await open();
    s.setTelephoneEvent(101);
    const a = await peer();
    const latched = once(s, 'latched');
    await sendRun(a, s.port, 7, 3); // audio first: probation passes on seq 7–9
    await latched;
    const digits: string[] = [];
    s.on('dtmf', (e) => digits.push(e.digit));
    let packets = 0;
    s.on('packet', () => packets++);
    const gotDtmf = once(s, 'dtmf');
    let seq = 10;
    for (const p of telephoneEventPackets('9', { durationMs: 60, packetIntervalMs: 20 })) {
      const pkt = serializeRtp(
        { payloadType: 101, marker: p.marker, sequence: seq++, timestamp: 8000, ssrc: 7 },
        p.payload,
      );
      await sendTo(a, s.port, pkt);
    }
    await gotDtmf;
    await seen(s, 3 + 6);
    expect(digits).toEqual(['9']);
    expect(packets).toBe(6);
  });

  it('works over IPv6 loopback when available', async () => {
    const probe = createSocket('udp6');
    const ok = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.bind(0, '::1', () => resolve(true));
    });
    probe.close();
    if (!ok) {
      console.warn('skipping IPv6 RTP test: ::1 not available');
      return;
    }
    const s = await RtpSocket.open({ pool, host: '::1' });
    cleanup.push(() => s.close());
    const p6 = createSocket('udp6');
    await new Promise<void>((resolve) => p6.bind(0, '::1', resolve));
    cleanup.push(() => p6.close());
    s.setRemote('::1', p6.address().port);
    const got = once(s, 'packet');
    for (let q = 1; q <= 3; q++) p6.send(rtp(q), s.port, '::1');
    const [pkt] = (await got) as [RtpPacket];
    expect(pkt.sequence).toBe(3);
    const back = once(p6, 'message');
    const out = rtp(4);
    s.send(out, out.length);
    expect(((await back) as [Buffer])[0]).toEqual(out);
  });
});

describe('isPrivateAddress', () => {
  it('classifies NAT-side addresses', () => {
    for (const a of [
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '100.64.0.1',
      '169.254.1.1',
      'fd00::1',
      'fe80::1',
      '127.0.0.1',
      '127.0.0.3',
      '::1',
    ]) {
      expect(isPrivateAddress(a)).toBe(true);
    }
    for (const a of ['8.8.8.8', '172.32.0.1', '192.0.2.1', '2001:db8::1']) {
      expect(isPrivateAddress(a)).toBe(false);
    }
  });
});
