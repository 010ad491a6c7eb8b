/**
 * RtpLeg on real loopback sockets driven by a fake-clock ticker: packets of the negotiated ptime, RFC 4733
 * events on the leg's media clock, recording ticks per ptime, and failures that end the leg instead of
 * leaving dead air or a bound port (issue 10).
 */
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { EchoAgent } from '../../src/agent/providers/echo/echo-agent.js';
import { createCallMetrics } from '../../src/call/call-metrics.js';
import { RtpLeg } from '../../src/call/rtp-leg.js';
import { RtpLegFactory } from '../../src/call/rtp-leg-factory.js';
import { CallSession } from '../../src/call/session.js';
import { agentProfileSchema } from '../../src/routing/dialplan.js';
import type { Dialog } from '../../src/sip/signaling.js';
import { PortPool } from '../../src/media/rtp/port-pool.js';
import { RtpSocket } from '../../src/media/rtp/socket.js';
import { Ticker } from '../../src/media/ticker.js';
import type { NegotiatedMedia } from '../../src/sip/sdp.js';
import { FakeClock } from '../media/playout.support.js';
import { RtpCapture } from '../support/rtp-peer.js';

const logger = pino({ level: 'silent' });
const PEER = '127.0.0.61';

function media(ptimeMs: number, port: number): NegotiatedMedia {
  return {
    ok: true,
    codec: { name: 'PCMU', payloadType: 0, clockRateHz: 8000, channels: 1, ptimeMs },
    telephoneEvent: { payloadType: 101, clockRateHz: 8000 },
    remote: { address: PEER, port },
    direction: 'sendrecv',
    hold: false,
  };
}

async function rig(ptimeMs: number) {
  const clock = new FakeClock(0);
  const ticker = new Ticker({ now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
  const base = 41000 + 2 * Math.floor(Math.random() * 400);
  const pool = new PortPool({ minPort: base, maxPort: base + 21, logger });
  const capture = await RtpCapture.open(PEER, base + 100);
  const socket = await RtpSocket.open({ pool, host: '127.0.0.1', logger });
  const leg = new RtpLeg({ socket, media: media(ptimeMs, base + 100), ticker, logger });
  const flushIo = (): Promise<void> => new Promise((r) => setTimeout(r, 30));
  return { clock, ticker, pool, capture, leg, base, flushIo };
}

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('RtpLeg packetization', () => {
  it.each([10, 30, 40])(
    'sends %i ms packets with exact timestamp steps and one tick event per packet',
    async (ptimeMs) => {
      const r = await rig(ptimeMs);
      cleanup.push(
        () => r.leg.close(),
        () => r.capture.close(),
      );
      const frameBytes = ptimeMs * 8;
      const frames = 30;
      for (let i = 0; i < frames; i++) r.leg.playout.enqueue(Buffer.alloc(frameBytes, i), 'a', 'r');
      const ticks: Array<number | undefined> = [];
      r.leg.on('tick', (_caller, sent) => ticks.push(sent?.length));
      r.clock.advanceBy(frames * ptimeMs + 40);
      await r.flushIo();
      const p = r.capture.packets;
      expect(p).toHaveLength(frames);
      expect(p.map((x) => x.payload.length)).toEqual(Array(frames).fill(frameBytes));
      expect(p.map((x) => x.payload[0])).toEqual(Array.from({ length: frames }, (_, i) => i));
      for (let i = 1; i < p.length; i++) {
        expect((p[i]!.timestamp - p[i - 1]!.timestamp) >>> 0).toBe(frameBytes);
        expect((p[i]!.sequence - p[i - 1]!.sequence) & 0xffff).toBe(1);
      }
      // One 'tick' per ptime of media time, the sent frame with it: recordings stay aligned.
      expect(ticks.filter((n) => n !== undefined)).toEqual(Array(frames).fill(frameBytes));
      expect(r.leg.playout.sentMs('a')).toBe(frames * ptimeMs);
    },
  );

  it('sends Opus at 60 ms: timestamps step by 2880 on the 48 kHz clock (RFC 7587 §4.1)', async () => {
    const r = await rig(20);
    cleanup.push(
      () => r.leg.close(),
      () => r.capture.close(),
    );
    const opus: NegotiatedMedia = {
      ...media(60, r.base + 100),
      codec: { name: 'opus', payloadType: 111, clockRateHz: 48000, channels: 2, ptimeMs: 60 },
      telephoneEvent: { payloadType: 110, clockRateHz: 48000 },
    };
    const socket = await RtpSocket.open({ pool: r.pool, host: '127.0.0.1', logger });
    const leg = new RtpLeg({ socket, media: opus, ticker: r.ticker, logger });
    cleanup.push(() => leg.close());
    for (let i = 0; i < 10; i++) leg.playout.enqueue(Buffer.alloc(100, i), 'a', 'r');
    r.clock.advanceBy(10 * 60 + 20);
    await r.flushIo();
    const p = r.capture.packets.filter((x) => x.payloadType === 111);
    expect(p).toHaveLength(10);
    for (let i = 1; i < p.length; i++) expect((p[i]!.timestamp - p[i - 1]!.timestamp) >>> 0).toBe(2880);
  });

  it('sends RFC 4733 events one per 30 ms slot, stamped with the media time of the digit start', async () => {
    const r = await rig(30);
    cleanup.push(
      () => r.leg.close(),
      () => r.capture.close(),
    );
    r.clock.advanceBy(95); // slots 0..3 (ideal 0, 30, 60, 90 ms) played, nothing to send
    const done = r.leg.sendDtmf('5');
    r.clock.advanceBy(600);
    await done;
    await r.flushIo();
    const events = r.capture.packets.filter((x) => x.payloadType === 101);
    // 160 ms at 30 ms spacing, then the end packet three times (RFC 4733 §2.5.1.4).
    const ended = events.filter((e) => (e.payload[1]! & 0x80) !== 0);
    const running = events.filter((e) => (e.payload[1]! & 0x80) === 0);
    expect(ended).toHaveLength(3);
    expect(running.length).toBeGreaterThanOrEqual(5);
    expect(new Set(events.map((e) => e.timestamp)).size).toBe(1);
    const durations = running.map((e) => e.payload.readUInt16BE(2));
    // Durations in the 8 kHz event clock grow by one 30 ms packet (240) each (§2.5.1.3).
    for (let i = 1; i < durations.length; i++) expect(durations[i]! - durations[i - 1]!).toBe(240);
    const final = ended[0]!.payload.readUInt16BE(2);
    expect(final).toBeGreaterThanOrEqual(durations.at(-1)!);
    expect(ended.every((e) => e.payload.readUInt16BE(2) === final)).toBe(true);
    for (let i = 1; i < events.length; i++)
      expect((events[i]!.sequence - events[i - 1]!.sequence) & 0xffff).toBe(1);
  });
});

describe('RtpLeg failures end the call, never the clock', () => {
  it('a throwing tick listener takes the leg off the clock and emits failed once', async () => {
    const r = await rig(20);
    cleanup.push(() => r.capture.close());
    const failures: Error[] = [];
    r.leg.on('failed', (err) => failures.push(err));
    r.leg.on('tick', () => {
      throw new Error('recorder exploded');
    });
    r.clock.advanceBy(100);
    expect(failures.map((e) => e.message)).toEqual(['recorder exploded']);
    expect(r.leg.failed).toBe(true);
    expect(r.ticker.size).toBe(0);
    // The leg caught it: the shared ticker saw no subscriber error (other calls unaffected).
    expect(r.ticker.stats().errors).toBe(0);
    expect(r.pool.inUse).toBe(1);
    r.leg.close();
    expect(r.pool.inUse).toBe(0);
  });

  it('a leg that cannot start gives its port back at once', async () => {
    const clock = new FakeClock(0);
    const ticker = new Ticker({ now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
    const base = 42000 + 2 * Math.floor(Math.random() * 400);
    const pool = new PortPool({ minPort: base, maxPort: base + 9, logger });
    const factory = new RtpLegFactory({ pool, host: '127.0.0.1', ticker, logger });
    const pending = await factory.allocate();
    expect(pool.inUse).toBe(1);
    const bad = {
      ...media(20, 9),
      codec: { ...media(20, 9).codec, name: 'G729' },
    } as unknown as NegotiatedMedia;
    expect(() => pending.start(bad)).toThrow();
    expect(pool.inUse).toBe(0);
    pending.release();
    expect(pool.inUse).toBe(0);
    expect(ticker.size).toBe(0);
  });
});

describe('a failed leg ends the call (CallSession)', () => {
  it('BYE is sent, the agent closed and the port released when the leg fails after the 200', async () => {
    const clock = new FakeClock(0);
    const ticker = new Ticker({ now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
    const base = 43000 + 2 * Math.floor(Math.random() * 400);
    const pool = new PortPool({ minPort: base, maxPort: base + 9, logger });
    const factory = new RtpLegFactory({ pool, host: '127.0.0.1', ticker, logger });
    const leg = (await factory.allocate()).start(media(30, base + 100));
    const hangups: string[] = [];
    const dialog = Object.assign(new EventEmitter(), {
      ended: false,
      hangup: async () => {
        hangups.push('BYE');
      },
    }) as unknown as Dialog;
    const format = { encoding: 'pcm16', sampleRateHz: 8000 } as const;
    const agentClosed: string[] = [];
    const session = new CallSession({
      id: 'call-1',
      tenant: 't',
      dialog,
      media: leg,
      profile: agentProfileSchema.parse({ provider: 'echo' }),
      logger,
      metrics: createCallMetrics(new Registry()),
      agentFormats: { input: format, output: format },
      createAgent: () => {
        const agent = new EchoAgent({ logger, inputFormat: format, outputFormat: format });
        agent.on('session.close', () => agentClosed.push('closed'));
        return Promise.resolve(agent);
      },
      transfer: () => Promise.resolve({ ok: false, callLeft: false, message: 'no' }),
    });
    const ended = new Promise<string>((resolve) => session.once('ended', ({ reason }) => resolve(reason)));
    await session.start();
    expect(pool.inUse).toBe(1);
    // Something on the media path throws (here a recording listener) while the call is up.
    leg.on('tick', () => {
      throw new Error('tick listener bug');
    });
    clock.advanceBy(100);
    expect(await ended).toBe('error');
    expect(hangups).toEqual(['BYE']);
    expect(agentClosed).toEqual(['closed']);
    expect(pool.inUse).toBe(0);
    expect(ticker.size).toBe(0);
  });
});
