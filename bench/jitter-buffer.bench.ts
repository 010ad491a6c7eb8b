/**
 * RTP receive hot path: parseRtp per packet, and JitterBuffer push/pop on a steady 20 ms stream with ~2 %
 * reordering and ~1 % loss. Figures are ns per operation on this machine; they are not asserted anywhere.
 */
import { JitterBuffer } from '../src/media/rtp/jitter-buffer.js';
import { createRtpPacket, parseRtp, serializeRtp } from '../src/media/rtp/packet.js';
import { TelephoneEventReceiver } from '../src/media/rtp/dtmf.js';
import { fmt, nsPerOp } from './util.js';

const FRAME_SAMPLES = 160;
const PACKETS = 4096; // a ring of pre-built packets, reused

export async function run(print: (line: string) => void): Promise<void> {
  // Pre-build the arrival order: mostly in order, every 50th pair swapped, every 100th dropped.
  const order: number[] = [];
  for (let s = 0; s < PACKETS; s++) {
    if (s % 100 === 99) continue;
    order.push(s);
  }
  for (let i = 49; i + 1 < order.length; i += 50) {
    const a = order[i]!;
    order[i] = order[i + 1]!;
    order[i + 1] = a;
  }
  const wire = order.map((s) =>
    serializeRtp(
      {
        payloadType: 0,
        marker: false,
        sequence: s & 0xffff,
        timestamp: (s * FRAME_SAMPLES) >>> 0,
        ssrc: 0x1234,
      },
      Buffer.alloc(160, s & 0xff),
    ),
  );

  const packet = createRtpPacket();
  let i = 0;
  const parseNs = nsPerOp(() => {
    parseRtp(wire[i++ % wire.length]!, packet);
  }, 2_000_000);
  print(`rtp parse (172-byte G.711 packet)         ${fmt(parseNs)} ns/packet`);

  // Jitter buffer: the fake clock advances 20 ms per frame; sequence/timestamp keep growing across laps
  // by rewriting the pre-built packets in place (no allocation in the timed loop beyond the buffer's own).
  let nowMs = 0;
  const jb = new JitterBuffer({ frameSamples: FRAME_SAMPLES, nowMs: () => nowMs });
  let lap = 0;
  let k = 0;
  const pushOne = (): void => {
    const buf = wire[k]!;
    const seq = order[k]! + lap * PACKETS;
    buf.writeUInt16BE(seq & 0xffff, 2);
    buf.writeUInt32BE((seq * FRAME_SAMPLES) >>> 0, 4);
    parseRtp(buf, packet);
    jb.push(packet);
    if (++k === wire.length) {
      k = 0;
      lap++;
    }
  };
  // Time push and pop separately in the same steady stream: push one, pop one.
  const iterations = 1_000_000;
  for (let w = 0; w < 5000; w++) {
    pushOne();
    nowMs += 20;
    jb.pop();
  }
  let pushTotal = 0n;
  let popTotal = 0n;
  for (let n = 0; n < iterations; n++) {
    const t0 = process.hrtime.bigint();
    pushOne();
    const t1 = process.hrtime.bigint();
    nowMs += 20;
    jb.pop();
    const t2 = process.hrtime.bigint();
    pushTotal += t1 - t0;
    popTotal += t2 - t1;
  }
  // Subtract the cost of reading the clock itself.
  const clockNs = nsPerOp(() => {
    process.hrtime.bigint();
  }, 1_000_000);
  const st = jb.stats();
  print(`jitter push (parse + copy 160 B)          ${fmt(Number(pushTotal) / iterations - clockNs)} ns/op`);
  print(`jitter pop                                ${fmt(Number(popTotal) / iterations - clockNs)} ns/op`);
  print(`  (hrtime overhead ${fmt(clockNs)} ns subtracted)`);
  const combined = nsPerOp(() => {
    pushOne();
    nowMs += 20;
    jb.pop();
  }, iterations);
  print(`jitter push+pop, untimed loop             ${fmt(combined)} ns/frame`);
  print(
    `  stream: received ${st.received}, lost ${st.lost}, reordered ${st.reordered}, late ${st.late}, ` +
      `concealed ${st.concealed}, target ${st.targetDepthMs} ms`,
  );

  const rx = new TelephoneEventReceiver({ onDigit: () => undefined });
  const ev = Buffer.from([5, 10, 0, 160]);
  let ts = 0;
  let n = 0;
  const dtmfNs = nsPerOp(() => {
    // A new event (new timestamp) every 8 packets; the last 3 of each carry the end bit.
    const inEvent = n++ % 8;
    if (inEvent === 0) ts = (ts + 8000) >>> 0;
    ev[1] = inEvent >= 5 ? 0x8a : 0x0a;
    rx.receive(ev, 0, 4, ts, inEvent === 0);
  }, 2_000_000);
  print(`telephone-event receive                   ${fmt(dtmfNs)} ns/packet`);
  await Promise.resolve();
}
