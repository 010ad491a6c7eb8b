/**
 * The wire codec of a running leg (src/call/wire-format.ts, RtpLeg.setWireFormat): which codecs a call may
 * switch to, conversion both ways between the call codec and the wire codec (G.711 µ ↔ A checked against an
 * independent G.711, alawmulaw; Opus by a round trip), RTP timestamps mapped between 8 and 48 kHz clocks,
 * and a leg that switches: new payload type on the wire, a new SSRC only when the clock changes, the old
 * format still decoded. Media time only (fake-clock ticker, packets counted).
 */
import { createSocket } from 'node:dgram';
import { alaw, mulaw } from 'alawmulaw';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RtpLeg } from '../../src/call/rtp-leg.js';
import { WireTranscoder, switchableCodecs } from '../../src/call/wire-format.js';
import { createCodec } from '../../src/media/codecs/index.js';
import { PortPool } from '../../src/media/rtp/port-pool.js';
import { createRtpPacket, parseRtp, serializeRtp } from '../../src/media/rtp/packet.js';
import { RtpSocket } from '../../src/media/rtp/socket.js';
import { Ticker } from '../../src/media/ticker.js';
import type { NegotiatedCodec } from '../../src/sip/sdp.js';
import { FakeClock } from '../media/playout.support.js';
import { eventually } from '../support/eventually.js';
import { RtpCapture } from '../support/rtp-peer.js';

const logger = pino({ level: 'silent' });
const PEER = '127.0.0.73';
const PCMU: NegotiatedCodec = { name: 'PCMU', payloadType: 0, clockRateHz: 8000, channels: 1, ptimeMs: 20 };
const PCMA: NegotiatedCodec = { name: 'PCMA', payloadType: 8, clockRateHz: 8000, channels: 1, ptimeMs: 20 };
const G722: NegotiatedCodec = { name: 'G722', payloadType: 9, clockRateHz: 8000, channels: 1, ptimeMs: 20 };
const OPUS: NegotiatedCodec = {
  name: 'opus',
  payloadType: 111,
  clockRateHz: 48000,
  channels: 2,
  ptimeMs: 20,
};

function tone(hz: number, samples: number, rateHz: number, from = 0): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++)
    out[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * (from + i)) / rateHz));
  return out;
}

function rms(pcm: Int16Array): number {
  let sum = 0;
  for (const s of pcm) sum += s * s;
  return Math.sqrt(sum / Math.max(1, pcm.length));
}

function packet(pt: number, seq: number, ts: number, payload: Buffer) {
  const p = createRtpPacket();
  expect(
    parseRtp(
      serializeRtp({ payloadType: pt, marker: false, sequence: seq, timestamp: ts, ssrc: 7 }, payload),
      p,
    ),
  ).toBe(true);
  return p;
}

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('switchableCodecs', () => {
  it('lets a G.711 or G.722 call go to the other 8 kHz-clock codecs, and to Opus only at an Opus frame duration', () => {
    expect(switchableCodecs('PCMU', 20)).toEqual(['PCMU', 'PCMA', 'G722', 'opus']);
    expect(switchableCodecs('PCMA', 10)).toEqual(['PCMU', 'PCMA', 'G722', 'opus']);
    expect(switchableCodecs('PCMU', 30)).toEqual(['PCMU', 'PCMA', 'G722']);
    expect(switchableCodecs('G722', 20)).toEqual(['PCMU', 'PCMA', 'G722', 'opus']);
    expect(switchableCodecs('opus', 20)).toEqual(['opus']);
  });
});

/** Two transcoders of a PCMU call onto `wire`, one sending (first timestamp `start`), one receiving. */
function pcmuTranscoders(wire: NegotiatedCodec, start: number): [WireTranscoder, WireTranscoder] {
  const sender = new WireTranscoder(createCodec('PCMU', 0), wire, start);
  const receiver = new WireTranscoder(createCodec('PCMU', 0), wire, 0);
  cleanup.push(
    () => sender.close(),
    () => receiver.close(),
  );
  return [sender, receiver];
}

describe('WireTranscoder', () => {
  it('PCMU call, PCMA wire: the same samples both ways (to G.711 precision), headers kept', () => {
    const call = createCodec('PCMU', 0);
    const t = new WireTranscoder(call, PCMA, 0);
    cleanup.push(() => t.close());
    expect(t.clockChanged).toBe(false);
    const speech = tone(440, 240, 8000); // a 30 ms caller packet: any duration is converted
    const inbound = t.toCall(packet(8, 500, 123_456, Buffer.from(alaw.encode(speech))));
    expect(inbound).toMatchObject({ sequence: 500, timestamp: 123_456, ssrc: 7, payloadLength: 240 });
    const heard = mulaw.decode(inbound!.buffer.subarray(0, inbound!.payloadLength));
    const sent = alaw.decode(Buffer.from(alaw.encode(speech)));
    for (let i = 0; i < heard.length; i++)
      expect(Math.abs(heard[i]! - sent[i]!)).toBeLessThanOrEqual(Math.abs(sent[i]!) / 16 + 64);

    const frame = Buffer.from(mulaw.encode(tone(1000, 160, 8000)));
    const out = t.toWire(frame, 9000);
    expect(out).toMatchObject({ payloadType: 8, timestamp: 9000 });
    const back = alaw.decode(out!.payload);
    const want = mulaw.decode(frame);
    for (let i = 0; i < back.length; i++)
      expect(Math.abs(back[i]! - want[i]!)).toBeLessThanOrEqual(Math.abs(want[i]!) / 16 + 64);
  });

  it('PCMU call, G.722 wire: same 8000 Hz clock (timestamps kept), 160 octets per 20 ms, the tone carried both ways', () => {
    const [sender, receiver] = pcmuTranscoders(G722, 0);
    expect(sender.clockChanged).toBe(false);
    const heard: Int16Array[] = [];
    for (let k = 0; k < 25; k++) {
      const frame = Buffer.from(mulaw.encode(tone(700, 160, 8000, k * 160)));
      const out = sender.toWire(frame, 5000 + k * 160);
      expect(out).toMatchObject({ payloadType: 9, timestamp: 5000 + k * 160 });
      expect(out!.payload.length).toBe(160);
      const inbound = receiver.toCall(packet(9, k, out!.timestamp, Buffer.from(out!.payload)));
      expect(inbound).toMatchObject({ timestamp: 5000 + k * 160, payloadLength: 160 });
      heard.push(mulaw.decode(inbound!.buffer.subarray(0, 160)));
    }
    const tail = Int16Array.from(heard.slice(5).flatMap((f) => Array.from(f)));
    expect(rms(tail)).toBeGreaterThan(0.7 * rms(tone(700, 160, 8000)));
    expect(rms(tail)).toBeLessThan(1.3 * rms(tone(700, 160, 8000)));
  });

  it('PCMU call, Opus wire: 48 kHz timestamps from the call clock ×6, and the round trip carries the tone', () => {
    const [sender, receiver] = pcmuTranscoders(OPUS, 1_000_000);
    expect(sender.clockChanged).toBe(true);
    const frames = 25;
    const heard: Int16Array[] = [];
    const stamps: number[] = [];
    for (let k = 0; k < frames; k++) {
      const frame = Buffer.from(mulaw.encode(tone(500, 160, 8000, k * 160)));
      const out = sender.toWire(frame, (4000 + k * 160) >>> 0);
      expect(out?.payloadType).toBe(111);
      stamps.push(out!.timestamp);
      const rtp = packet(111, k, out!.timestamp, Buffer.from(out!.payload));
      const inbound = receiver.toCall(rtp);
      expect(inbound?.payloadLength).toBe(160);
      stamps.push(inbound!.timestamp);
      heard.push(mulaw.decode(inbound!.buffer.subarray(0, 160)));
    }
    for (let k = 1; k < frames; k++) {
      // Wire (48 kHz) stamps step by 960 from the chosen start; call (8 kHz) stamps by 160 again.
      expect((stamps[2 * k]! - stamps[2 * k - 2]!) >>> 0).toBe(960);
      expect((stamps[2 * k + 1]! - stamps[2 * k - 1]!) >>> 0).toBe(160);
    }
    expect(stamps[0]).toBe(1_000_000);
    // After the codec's start-up (resampler and Opus delay), the 500 Hz tone comes back at its level.
    const tail = Int16Array.from(heard.slice(10).flatMap((f) => Array.from(f)));
    expect(rms(tail)).toBeGreaterThan(0.5 * rms(tone(500, 160, 8000)));
  });
});

describe('RtpLeg.setWireFormat', () => {
  it('PCMU → PCMA keeps SSRC and numbering, → Opus takes a new SSRC and a 48 kHz clock; the old PT is still heard', async () => {
    const clock = new FakeClock(0);
    const ticker = new Ticker({ now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
    // Ports of this file: the peer 127.0.0.73:49230–49231, the leg 127.0.0.1:49260–49279.
    const base = 49230;
    const pool = new PortPool({ minPort: 49260, maxPort: 49279, logger });
    const capture = await RtpCapture.open(PEER, base);
    const socket = await RtpSocket.open({ pool, host: '127.0.0.1', logger });
    const leg = new RtpLeg({
      socket,
      media: {
        ok: true,
        codec: PCMU,
        remote: { address: PEER, port: base },
        direction: 'sendrecv',
        hold: false,
      },
      ticker,
      logger,
    });
    const sender = createSocket('udp4');
    await new Promise<void>((r) => sender.bind(base + 1, PEER, () => r()));
    cleanup.push(
      () => leg.close(),
      () => capture.close(),
      () => new Promise<void>((r) => sender.close(() => r())),
    );
    const frame = Buffer.from(mulaw.encode(tone(440, 160, 8000)));
    // 15 frames queued at once and the wire switched right after the 5th and 10th were sent: no idle slot
    // in between, so every timestamp step is exactly one frame.
    let sentFrames = 0;
    leg.on('tick', (_caller, sent) => {
      if (sent === undefined) return;
      sentFrames++;
      if (sentFrames === 5) leg.setWireFormat(PCMA, undefined);
      if (sentFrames === 10) leg.setWireFormat(OPUS, undefined);
    });
    for (let i = 0; i < 15; i++) leg.playout.enqueue(frame, 'a', 'r');
    clock.advanceBy(20 * 20);
    expect(sentFrames).toBe(15);
    await eventually(() => expect(capture.packets).toHaveLength(15), 2000);
    const p = capture.packets;
    expect(p.map((x) => x.payloadType)).toEqual([
      ...Array(5).fill(0),
      ...Array(5).fill(8),
      ...Array(5).fill(111),
    ]);
    expect(new Set(p.slice(0, 10).map((x) => x.ssrc)).size).toBe(1);
    expect(p[10]!.ssrc).not.toBe(p[9]!.ssrc);
    for (let i = 1; i < 15; i++) expect((p[i]!.sequence - p[i - 1]!.sequence) & 0xffff).toBe(1);
    for (let i = 1; i < 10; i++) expect((p[i]!.timestamp - p[i - 1]!.timestamp) >>> 0).toBe(160);
    for (let i = 11; i < 15; i++) expect((p[i]!.timestamp - p[i - 1]!.timestamp) >>> 0).toBe(960);
    // PCMA packets (the format before Opus) still reach the call, as call-codec (µ-law) frames.
    const heard: Buffer[] = [];
    leg.on('frame', (f) => heard.push(Buffer.from(f)));
    const pcma = Buffer.from(alaw.encode(tone(440, 160, 8000)));
    for (let k = 0; k < 10; k++) {
      const rtp = serializeRtp(
        { payloadType: 8, marker: k === 0, sequence: 10 + k, timestamp: 800 + 160 * k, ssrc: 9 },
        pcma,
      );
      sender.send(rtp, leg.localPort, '127.0.0.1');
    }
    // The first two are the latch's probation (socket.ts); the other eight reach the leg.
    await eventually(() => expect(leg.stats().packetsReceived).toBe(8), 2000);
    clock.advanceBy(20 * 12);
    const loud = heard.filter((f) => rms(mulaw.decode(f)) > 3000);
    expect(loud.length).toBeGreaterThanOrEqual(6);

    // Then Opus, the format now negotiated (same SSRC, numbering continued, its own 48 kHz timestamps):
    // decoded, resampled and re-encoded as µ-law frames, after the codec's start-up.
    const encoder = createCodec('opus', 111);
    cleanup.push(() => encoder.close?.());
    const opusPayload = Buffer.alloc(1275);
    heard.length = 0;
    for (let k = 0; k < 15; k++) {
      const bytes = encoder.encode(tone(440, 960, 48000, k * 960), opusPayload);
      const rtp = serializeRtp(
        { payloadType: 111, marker: false, sequence: 20 + k, timestamp: 96_000 + 960 * k, ssrc: 9 },
        opusPayload.subarray(0, bytes),
      );
      sender.send(rtp, leg.localPort, '127.0.0.1');
    }
    await eventually(() => expect(leg.stats().packetsReceived).toBe(23), 2000);
    clock.advanceBy(20 * 20);
    const loudOpus = heard.filter((f) => rms(mulaw.decode(f)) > 2000);
    console.log('[measure] opus in', { frames: heard.length, loud: loudOpus.length });
    expect(loudOpus.length).toBeGreaterThanOrEqual(10);
  });
});
