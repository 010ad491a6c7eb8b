/**
 * Issue 11, "RTP hijack before latching", on loopback with real sockets: an attacker on 127.0.0.9 sprays
 * valid, perfectly consecutive RTP at the call's port from before the caller starts; the caller on
 * 127.0.0.2 (the address its INVITE came from) must still be latched, hear the audio we send, and the
 * attacker must get nothing and have nothing delivered.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { serializeRtp } from '../../../src/media/rtp/packet.js';
import { PortPool } from '../../../src/media/rtp/port-pool.js';
import { RtpSocket } from '../../../src/media/rtp/socket.js';

const SERVER = '127.0.0.1';
const CALLER = '127.0.0.2';
const ATTACKER = '127.0.0.9';
const pool = new PortPool({ minPort: 41500, maxPort: 41599 });
const cleanup: (() => void)[] = [];

afterEach(() => {
  for (const fn of cleanup.splice(0)) fn();
});

async function bound(address: string): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, address, resolve));
  cleanup.push(() => s.close());
  return s;
}

function packet(seq: number, ssrc: number, tag: string): Buffer {
  return serializeRtp(
    { payloadType: 0, marker: false, sequence: seq & 0xffff, timestamp: (seq * 160) >>> 0, ssrc },
    Buffer.from(tag.padEnd(160, '.')),
  );
}

/** Sends `count` packets every `periodMs`; resolves when the last one left. Bounded by `count`. */
function stream(from: Socket, port: number, count: number, periodMs: number, make: (i: number) => Buffer) {
  let i = 0;
  return new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      from.send(make(i), port, SERVER);
      if (++i >= count) {
        clearInterval(timer);
        resolve();
      }
    }, periodMs);
    cleanup.push(() => clearInterval(timer));
  });
}

describe('RTP latching under a spraying attacker (loopback, real sockets)', () => {
  it('the caller on the signaling address is latched and hears us; the attacker gets nothing', async () => {
    const rtp = await RtpSocket.open({ pool, host: SERVER, signalingAddress: CALLER });
    cleanup.push(() => rtp.close());
    const attacker = await bound(ATTACKER);
    const caller = await bound(CALLER);
    let attackerGot = 0;
    attacker.on('message', () => attackerGot++);
    let callerGot = 0;
    caller.on('message', (msg: Buffer) => {
      if (msg.subarray(12, 17).toString() === 'AGENT') callerGot++;
    });
    const delivered: { address: string; seq: number; tag: string }[] = [];
    rtp.on('packet', (p, r) =>
      delivered.push({
        address: r.address,
        seq: p.sequence,
        tag: p.buffer.subarray(p.payloadOffset, p.payloadOffset + 6).toString(),
      }),
    );

    // The attacker starts before the call is even answered and keeps going through it: 1,200 packets.
    const spray = stream(attacker, rtp.port, 1200, 1, (i) => packet(i, 0xa77ac4, 'ATTACK'));
    await new Promise((r) => setTimeout(r, 30));
    // Answered: the caller's SDP names its loopback address (private: not matchable by itself).
    rtp.setRemote(CALLER, caller.address().port);
    // Our side sends agent audio from now on, 20 ms apart, before and after latching.
    const out = packet(0, 0x5b, 'AGENT');
    let sent = 0;
    const agent = setInterval(() => {
      if (rtp.send(out, out.length)) sent++;
    }, 20);
    cleanup.push(() => clearInterval(agent));
    await new Promise((r) => setTimeout(r, 60));

    const latched = once(rtp, 'latched');
    const talk = stream(caller, rtp.port, 50, 20, (i) => packet(1000 + i, 0xc0ffee, 'CALLER'));
    const [address, port] = (await latched) as [string, number];
    expect([address, port]).toEqual([CALLER, caller.address().port]);
    await Promise.all([talk, spray]);
    clearInterval(agent);
    // Wait (bounded) for the caller's last packet to be processed: it is the one delivered last.
    for (let i = 0; i < 100 && delivered.at(-1)?.seq !== 1049; i++)
      await new Promise((r) => setTimeout(r, 10));

    // Media time: the probation costs exactly two of the caller's packets (40 ms), then all are delivered.
    expect(delivered[0]).toEqual({ address: CALLER, seq: 1002, tag: 'CALLER' });
    expect(delivered.every((d) => d.address === CALLER && d.tag === 'CALLER')).toBe(true);
    expect(delivered.length).toBe(48);
    expect(rtp.counters.foreignDropped).toBeGreaterThan(0);
    expect(rtp.counters.probationRejected).toBe(2);
    expect(rtp.remote).toEqual({ address: CALLER, port: caller.address().port });
    // Everything we sent went to the caller; the attacker received not one packet.
    expect(sent).toBeGreaterThan(10);
    for (let i = 0; i < 50 && callerGot < sent; i++) await new Promise((r) => setTimeout(r, 10));
    expect(callerGot).toBe(sent);
    expect(attackerGot).toBe(0);
  });

  it('follows the caller to a new port when the same stream continues there (NAT rebinding)', async () => {
    const rtp = await RtpSocket.open({ pool, host: SERVER, signalingAddress: CALLER });
    cleanup.push(() => rtp.close());
    const first = await bound(CALLER);
    const moved = await bound(CALLER);
    const attacker = await bound(ATTACKER);
    rtp.setRemote(CALLER, first.address().port);
    const latched = once(rtp, 'latched');
    await stream(first, rtp.port, 5, 5, (i) => packet(i, 0xc0ffee, 'CALLER'));
    await latched;
    // The attacker tries a new stream of its own mid-call; then the caller's NAT binding moves.
    await stream(attacker, rtp.port, 20, 1, (i) => packet(5 + i, 0xbad, 'ATTACK'));
    const relatched = once(rtp, 'latched');
    await stream(moved, rtp.port, 5, 5, (i) => packet(6 + i, 0xc0ffee, 'CALLER'));
    expect(((await relatched) as [string, number])[1]).toBe(moved.address().port);
    expect(rtp.counters.relatched).toBe(1);
    expect(rtp.counters.foreignDropped).toBe(20);
    const back = once(moved, 'message');
    const out = packet(0, 0x5b, 'AGENT');
    rtp.send(out, out.length);
    await back;
  });

  it('falls back to another source only after the grace period, and only if the caller never sent', async () => {
    const elsewhere = await bound('127.0.0.5'); // a carrier's separate media server, say
    const fallback = await RtpSocket.open({
      pool,
      host: SERVER,
      signalingAddress: CALLER,
      foreignLatchDelayMs: 100,
    });
    cleanup.push(() => fallback.close());
    fallback.setRemote(CALLER, 9);
    const latched = once(fallback, 'latched');
    const media = stream(elsewhere, fallback.port, 100, 20, (i) => packet(i, 0x77, 'MEDIA'));
    const [address] = (await latched) as [string, number];
    expect(address).toBe('127.0.0.5');
    expect(fallback.counters.foreignDropped).toBeGreaterThan(0); // held back during the grace period
    await media;

    // Same, but the caller's address sent one packet: it is alive, so nothing else ever latches.
    const caller = await bound(CALLER);
    const guarded = await RtpSocket.open({
      pool,
      host: SERVER,
      signalingAddress: CALLER,
      foreignLatchDelayMs: 50,
    });
    cleanup.push(() => guarded.close());
    guarded.setRemote(CALLER, 9);
    caller.send(packet(0, 0xc0ffee, 'CALLER'), guarded.port, SERVER);
    await stream(elsewhere, guarded.port, 15, 20, (i) => packet(i, 0x77, 'MEDIA')); // 300 ms > the grace
    // Wait (bounded) until the socket has read all 15, then: none latched, none delivered.
    for (let i = 0; i < 50 && guarded.counters.foreignDropped < 15; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(guarded.counters.foreignDropped).toBe(15);
    expect(guarded.latched).toBe(false);
    expect(guarded.counters.packetsReceived).toBe(0);
  });
});
