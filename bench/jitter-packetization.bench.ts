/**
 * Jitter buffer under other packetizations (issue 10): G.711 packets of 10, 20, 30, 40 and 60 ms arriving on
 * a 20 ms call leg, without and with network jitter, through the buffer exactly as RtpLeg configures it
 * (sample mode: packets cut into 20 ms frames; minimum depth 40 ms). Packet mode, where each packet is one
 * frame placed at the nearest frame boundary (what the buffer did for every codec before), is shown for
 * comparison. Figures: % of played frames concealed (lost + underrun while the caller talks), % of packets
 * dropped (late, duplicate or out of range), the target depth at the end. Simulated media time, seeded
 * PRNG: the figures are the same on every machine.
 */
import { JitterBuffer } from '../src/media/rtp/jitter-buffer.js';
import { createRtpPacket, parseRtp, serializeRtp } from '../src/media/rtp/packet.js';
import { fmt } from './util.js';

const FRAME_MS = 20;
const FRAME_SAMPLES = 160;
const SECONDS = 60;

interface Result {
  concealedPct: number;
  droppedPct: number;
  partialPct: number;
  targetMs: number;
}

function simulate(packetMs: number, jitterMs: number, sampleMode: boolean): Result {
  let seed = 12345;
  const rand = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const units = packetMs * 8;
  const packets = Math.floor((SECONDS * 1000) / packetMs);
  // Arrival: captured, then sent at the end of the packet, plus 10 ms path delay and up to `jitterMs` more.
  const arrivals: { at: number; seq: number }[] = [];
  for (let k = 0; k < packets; k++)
    arrivals.push({ at: (k + 1) * packetMs + 10 + rand() * jitterMs, seq: k });
  arrivals.sort((a, b) => a.at - b.at);
  const wire = arrivals.map((a) =>
    serializeRtp(
      { payloadType: 0, marker: a.seq === 0, sequence: a.seq & 0xffff, timestamp: a.seq * units, ssrc: 1 },
      Buffer.alloc(units, 0x55),
    ),
  );
  const jb = new JitterBuffer({
    frameSamples: FRAME_SAMPLES,
    frameDurationMs: FRAME_MS,
    minDepthMs: 40,
    nowMs: () => 0,
    ...(sampleMode ? { bytesPerTimestampUnit: 1, fillByte: 0xff } : {}),
  });
  const pkt = createRtpPacket();
  let i = 0;
  let frames = 0;
  let concealed = 0;
  let started = false;
  const endMs = SECONDS * 1000;
  // The leg's ticker has an arbitrary phase against the sender's clock: 7 ms here.
  for (let t = 7; t < endMs; t += FRAME_MS) {
    while (i < arrivals.length && arrivals[i]!.at <= t) {
      parseRtp(wire[i]!, pkt);
      jb.push(pkt, arrivals[i]!.at);
      i++;
    }
    const f = jb.pop();
    if (f.kind === 'frame') started = true;
    if (!started || t > endMs - 200) continue; // count the caller's talk only, not start-up or the tail
    frames++;
    if (f.kind === 'lost' || f.kind === 'empty') concealed++;
  }
  const st = jb.stats();
  return {
    concealedPct: (100 * concealed) / frames,
    droppedPct: (100 * (st.late + st.duplicate + st.outOfRange)) / st.received,
    partialPct: (100 * st.partial) / frames,
    targetMs: st.targetDepthMs,
  };
}

export async function run(print: (line: string) => void): Promise<void> {
  print(`G.711 on a 20 ms leg, ${SECONDS} s per run; jitter = extra path delay uniform in [0, J] ms`);
  print('packet  J ms  mode     concealed  dropped  partial  target');
  for (const jitterMs of [0, 40]) {
    for (const packetMs of [10, 20, 30, 40, 60]) {
      for (const sampleMode of [true, false]) {
        const r = simulate(packetMs, jitterMs, sampleMode);
        print(
          `${String(packetMs).padStart(3)} ms  ${String(jitterMs).padStart(4)}  ${sampleMode ? 'sample' : 'packet'}` +
            `   ${fmt(r.concealedPct).padStart(6)} %  ${fmt(r.droppedPct).padStart(5)} %  ` +
            `${fmt(r.partialPct).padStart(5)} %  ${String(r.targetMs).padStart(3)} ms`,
        );
      }
    }
  }
  await Promise.resolve();
}
