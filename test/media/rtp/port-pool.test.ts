import { createSocket, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { SwitchboardError } from '../../../src/errors.js';
import { PortPool, type PortLease } from '../../../src/media/rtp/port-pool.js';

const HOST = '127.0.0.1';
const leases: PortLease[] = [];
const blockers: Socket[] = [];

afterEach(() => {
  for (const l of leases.splice(0)) l.release();
  for (const s of blockers.splice(0)) s.close();
});

async function take(pool: PortPool): Promise<PortLease> {
  const lease = await pool.allocate(HOST);
  leases.push(lease);
  return lease;
}

function block(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(port, HOST, () => {
      blockers.push(s);
      resolve(s);
    });
  });
}

/** A fake socket that binds instantly, or fails with `failCode` for the listed ports. */
function fakeFactory(busy: Set<number>, failCode = 'EADDRINUSE') {
  const open = new Set<number>();
  const factory = (): Socket => {
    const ee = new EventEmitter() as EventEmitter & { bind: unknown; close: unknown };
    let port = -1;
    ee.bind = (opts: { port: number }) => {
      port = opts.port;
      queueMicrotask(() => {
        if (busy.has(port) || open.has(port)) {
          const err = Object.assign(new Error('busy'), { code: failCode });
          ee.emit('error', err);
        } else {
          open.add(port);
          ee.emit('listening');
        }
      });
    };
    ee.close = () => {
      open.delete(port);
    };
    return ee as unknown as Socket;
  };
  return { factory, open };
}

describe('PortPool', () => {
  it('hands out even ports only, within the range', async () => {
    const pool = new PortPool({ minPort: 41101, maxPort: 41110 });
    expect(pool.size).toBe(4); // 41102..41108; 41110 is out because its RTCP port 41111 is
    const ports = [];
    for (let i = 0; i < pool.size; i++) ports.push((await take(pool)).port);
    expect(ports.every((p) => p % 2 === 0 && p >= 41101 && p <= 41110)).toBe(true);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('throws MEDIA_PORTS_EXHAUSTED when every port is leased', async () => {
    const pool = new PortPool({ minPort: 41120, maxPort: 41123 });
    await take(pool);
    await take(pool);
    const err = await pool.allocate(HOST).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect((err as SwitchboardError).code).toBe('MEDIA_PORTS_EXHAUSTED');
    expect(pool.inUse).toBe(2);
  });

  it('skips a port held by another process and can hand it out once it is free', async () => {
    const pool = new PortPool({ minPort: 41130, maxPort: 41135 });
    const blocker = await block(41132);
    const a = await take(pool);
    const b = await take(pool);
    expect([a.port, b.port].sort()).toEqual([41130, 41134]);
    expect(pool.inUse).toBe(2);
    blocker.close();
    blockers.splice(blockers.indexOf(blocker), 1);
    const c = await take(pool); // 41132 stayed in the pool
    expect(c.port).toBe(41132);
  });

  it('is exhausted when the only free ports are held elsewhere', async () => {
    const pool = new PortPool({ minPort: 41140, maxPort: 41143 });
    await block(41140);
    await block(41142);
    await expect(pool.allocate(HOST)).rejects.toMatchObject({ code: 'MEDIA_PORTS_EXHAUSTED' });
    expect(pool.inUse).toBe(0);
  });

  it('does not reuse a just-released port while other ports are free (quarantine)', async () => {
    const { factory } = fakeFactory(new Set());
    const pool = new PortPool({ minPort: 1000, maxPort: 1019, socketFactory: factory });
    expect(pool.size).toBe(10);
    const a = await pool.allocate(HOST);
    a.release();
    const others = [];
    for (let i = 0; i < 9; i++) others.push((await pool.allocate(HOST)).port);
    expect(others).not.toContain(a.port);
    // Only the quarantined port is left: it is handed out rather than failing.
    expect((await pool.allocate(HOST)).port).toBe(a.port);
  });

  it('draws ports at random: consecutive allocations are not sequential and spread over the range', async () => {
    const draw = async (): Promise<number[]> => {
      const { factory } = fakeFactory(new Set());
      const pool = new PortPool({ minPort: 30000, maxPort: 30599, socketFactory: factory });
      const ports: number[] = [];
      for (let i = 0; i < 60; i++) ports.push((await pool.allocate(HOST)).port);
      return ports;
    };
    const ports = await draw();
    expect(new Set(ports).size).toBe(60);
    // In order, every step would be +2; at random a step is +2 with probability 1/300.
    const steps = ports.slice(1).map((p, i) => p - ports[i]!);
    expect(steps.filter((d) => d === 2).length).toBeLessThanOrEqual(5);
    expect(steps.filter((d) => d > 0).length).toBeGreaterThan(10);
    expect(steps.filter((d) => d < 0).length).toBeGreaterThan(10);
    // 60 draws from 300 ports reach both ends of the range (each tenth is missed with p < 0.002).
    const tenths = new Set(ports.map((p) => Math.floor((p - 30000) / 60)));
    expect(tenths.size).toBeGreaterThanOrEqual(8);
    // A second pool does not repeat the first one's sequence.
    const again = await draw();
    expect(again.slice(0, 10)).not.toEqual(ports.slice(0, 10));
  });

  it('the port after a released one is not predictable over allocate/release cycles', async () => {
    const { factory } = fakeFactory(new Set());
    const pool = new PortPool({ minPort: 30000, maxPort: 30199, socketFactory: factory });
    const seen = new Set<number>();
    let prev = -1;
    let sequential = 0;
    for (let i = 0; i < 2000; i++) {
      const lease = await pool.allocate(HOST);
      if (lease.port === prev + 2) sequential++;
      prev = lease.port;
      seen.add(lease.port);
      lease.release();
    }
    expect(pool.inUse).toBe(0);
    expect(pool.leased).toBe(0);
    // 2000 draws over 100 ports: every port comes up, and "previous + 2" about 1 % of the time.
    expect(seen.size).toBe(100);
    expect(sequential).toBeLessThan(100);
  });

  it('release is idempotent and does not free a port re-leased to someone else', async () => {
    const { factory } = fakeFactory(new Set());
    const pool = new PortPool({ minPort: 1000, maxPort: 1001, socketFactory: factory });
    const a = await pool.allocate(HOST);
    a.release();
    const b = await pool.allocate(HOST);
    expect(b.port).toBe(a.port);
    a.release();
    expect(pool.inUse).toBe(1);
    b.release();
    b.release();
    expect(pool.inUse).toBe(0);
  });

  it('rethrows bind errors that are not "port busy"', async () => {
    const { factory } = fakeFactory(new Set([1000, 1002]), 'EADDRNOTAVAIL');
    const pool = new PortPool({ minPort: 1000, maxPort: 1003, socketFactory: factory });
    await expect(pool.allocate('10.255.255.1')).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
    expect(pool.inUse).toBe(0);
  });

  it('concurrent allocations get distinct ports', async () => {
    const pool = new PortPool({ minPort: 41160, maxPort: 41179 });
    const got = await Promise.all(Array.from({ length: 10 }, () => take(pool)));
    expect(new Set(got.map((l) => l.port)).size).toBe(10);
    await expect(pool.allocate(HOST)).rejects.toMatchObject({ code: 'MEDIA_PORTS_EXHAUSTED' });
  });

  it('does not leak over 5000 allocate/release cycles (real sockets)', async () => {
    const pool = new PortPool({ minPort: 41200, maxPort: 41219 });
    expect(pool.size).toBe(10);
    const held: PortLease[] = [];
    for (let i = 0; i < 5000; i++) {
      held.push(await pool.allocate(HOST));
      // Keep up to 3 leases open so releases interleave with allocations.
      if (held.length > 3 || i % 7 === 0) held.shift()!.release();
    }
    for (const l of held) l.release();
    expect(pool.inUse).toBe(0);
    expect(pool.available).toBe(pool.size);
    // Every port can still be bound: nothing is left open.
    const all = await Promise.all(Array.from({ length: pool.size }, () => take(pool)));
    expect(all).toHaveLength(10);
  });
});

describe('PortPool with RTCP pairs (RFC 3550 §11)', () => {
  it('leases an even port with its odd partner bound; a pair whose odd port is taken is skipped', async () => {
    // Ports 56900–56907 (this suite's block): pairs 56900/1, 56902/3, 56904/5, 56906/7; 56903 is taken.
    const pool = new PortPool({ minPort: 56900, maxPort: 56907, rtcp: true });
    await block(56903);
    const got = [await take(pool), await take(pool), await take(pool)];
    expect(got.map((l) => l.port).sort()).toEqual([56900, 56904, 56906]);
    for (const l of got) expect(l.rtcpSocket?.address().port).toBe(l.port + 1);
    await expect(pool.allocate(HOST)).rejects.toMatchObject({ code: 'MEDIA_PORTS_EXHAUSTED' });
    expect(pool.inUse).toBe(3);
    // Released leases free both ports of the pair: another process can bind them again.
    for (const l of leases.splice(0)) l.release();
    expect(pool.inUse).toBe(0);
    for (const p of [56900, 56901, 56904, 56905]) await block(p);
  });
});
