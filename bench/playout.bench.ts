/**
 * Playout under load: 1,000 simulated calls on the one shared Ticker with real timers, each sending one
 * 20 ms PCMU frame per tick through a sink that writes the 12-byte RTP header (RFC 3550 §5.1) and the
 * payload into a preallocated packet buffer. A feeder keeps every queue topped up like agent deltas would.
 *
 * Env: BENCH_PLAYOUT_SECONDS (default 30), BENCH_PLAYOUT_CALLS (default 1000), BENCH_PLAYOUT_UDP=1 to also
 * send every packet over a real UDP socket to an unused local port.
 */
import { createSocket, type Socket } from 'node:dgram';
import { loadavg } from 'node:os';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { PlayoutStream, type RtpSink } from '../src/media/playout.js';
import { Ticker } from '../src/media/ticker.js';
import { fmt } from './util.js';

const FRAME_BYTES = 160; // PCMU, 8 kHz, 20 ms
const HEADER_BYTES = 12;
const FEED_INTERVAL_MS = 100;
const TARGET_QUEUE_MS = 400;
const FRAMES_PER_ITEM = 150; // a new assistant item every 3 s
const ELD_RESOLUTION_MS = 10;

/** Writes the RTP header the way the real RTP socket does; optionally sends on UDP. */
class BenchSink implements RtpSink {
  /** Two packet buffers: a UDP send may still reference the previous one during a catch-up burst. */
  readonly #packets = [Buffer.alloc(HEADER_BYTES + FRAME_BYTES), Buffer.alloc(HEADER_BYTES + FRAME_BYTES)];
  #which = 0;
  sent = 0;
  checksum = 0;

  constructor(
    private readonly ssrc: number,
    private readonly udp: { socket: Socket; port: number } | undefined,
  ) {}

  send(payload: Buffer, sequence: number, timestamp: number, marker: boolean): void {
    const packet = this.#packets[this.#which]!;
    this.#which ^= 1;
    packet[0] = 0x80; // V=2, no padding/extension/CSRC
    packet[1] = (marker ? 0x80 : 0) | 0; // payload type 0 = PCMU (RFC 3551 §6)
    packet.writeUInt16BE(sequence, 2);
    packet.writeUInt32BE(timestamp, 4);
    packet.writeUInt32BE(this.ssrc, 8);
    const n = payload.copy(packet, HEADER_BYTES);
    this.sent++;
    this.checksum = (this.checksum + packet[13]! + sequence) | 0;
    if (this.udp !== undefined) this.udp.socket.send(packet, 0, HEADER_BYTES + n, this.udp.port, '127.0.0.1');
  }
}

interface Call {
  readonly stream: PlayoutStream;
  readonly sink: BenchSink;
  framesQueued: number;
  item: string;
}

function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function run(print: (line: string) => void): Promise<void> {
  const seconds = envNumber('BENCH_PLAYOUT_SECONDS', 30);
  const callCount = envNumber('BENCH_PLAYOUT_CALLS', 1000);
  const useUdp = process.env.BENCH_PLAYOUT_UDP === '1';

  let udp: { socket: Socket; port: number } | undefined;
  if (useUdp) {
    // Send to a port nobody reads (bound then closed): the kernel path is measured, not a JS receiver
    // competing for this process's event loop. Unconnected sockets do not surface the ICMP errors.
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    const port = probe.address().port;
    await new Promise<void>((r) => probe.close(r));
    const socket = createSocket('udp4');
    socket.on('error', () => undefined);
    udp = { socket, port };
  }

  // The queue holds references only and the sink copies, so one shared payload stands in for fresh frames.
  const payload = Buffer.alloc(FRAME_BYTES, 0xff);
  const ticker = new Ticker();
  const calls: Call[] = [];
  for (let i = 0; i < callCount; i++) {
    const sink = new BenchSink(0x1000 + i, udp);
    const stream = new PlayoutStream({ sink, frameSamples: 160 });
    calls.push({ stream, sink, framesQueued: 0, item: `item-${i}-0` });
  }
  const feed = (): void => {
    for (let c = 0; c < calls.length; c++) {
      const call = calls[c]!;
      while (call.stream.queuedMs < TARGET_QUEUE_MS) {
        if (call.framesQueued % FRAMES_PER_ITEM === 0) call.item = `item-${c}-${call.framesQueued}`;
        call.stream.enqueue(payload, call.item, 'resp');
        call.framesQueued++;
      }
    }
  };
  feed();
  const feeder = setInterval(feed, FEED_INTERVAL_MS);
  for (const call of calls) ticker.add(call.stream);

  await sleep(1000); // warm-up: JIT, first feeds
  ticker.resetStats();
  const sentBefore = calls.reduce((s, c) => s + c.sink.sent, 0);
  const idleBefore = calls.reduce((s, c) => s + c.stream.stats().idleFrames, 0);
  const gc = { minor: 0, major: 0, pauseMs: 0 };
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { readonly detail?: { readonly kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.minor++;
      else gc.major++;
      gc.pauseMs += entry.duration;
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  eld.enable();
  const cpuBefore = process.cpuUsage();
  const startNs = process.hrtime.bigint();

  await sleep(seconds * 1000);

  const wallMs = Number(process.hrtime.bigint() - startNs) / 1e6;
  const cpu = process.cpuUsage(cpuBefore);
  eld.disable();
  gcObserver.disconnect();
  const stats = ticker.stats();
  const sent = calls.reduce((s, c) => s + c.sink.sent, 0) - sentBefore;
  const idle = calls.reduce((s, c) => s + c.stream.stats().idleFrames, 0) - idleBefore;
  const expected = Math.round(wallMs / ticker.periodMs) * callCount;

  clearInterval(feeder);
  for (const call of calls) ticker.remove(call.stream);
  udp?.socket.close();

  const l = stats.lateness;
  const w = stats.workMs;
  print(
    `calls ${callCount}, ${fmt(wallMs / 1000, 1)} s measured${useUdp ? ', UDP to 127.0.0.1' : ', no socket'}, ` +
      `load average ${loadavg()
        .map((x) => fmt(x, 2))
        .join(' ')}`,
  );
  print(
    `ticker lateness ms: p50 ${fmt(l.percentileMs(50), 1)}  p99 ${fmt(l.percentileMs(99), 1)}  ` +
      `p99.9 ${fmt(l.percentileMs(99.9), 1)}  max ${fmt(l.maxMs, 2)}  (${l.count} ticks)`,
  );
  print(
    `tick work ms (all calls): p50 ${fmt(w.percentileMs(50), 1)}  p99 ${fmt(w.percentileMs(99), 1)}  ` +
      `max ${fmt(w.maxMs, 2)}`,
  );
  print(
    `wakes ${stats.wakes}, early wakes ${stats.earlyWakes}, catch-up ticks ${stats.catchUpTicks}, ` +
      `skipped ticks ${stats.skippedTicks}, subscriber errors ${stats.errors}`,
  );
  print(
    `frames sent ${sent}, expected ${expected} (${fmt((100 * sent) / expected, 2)} %), underrun frames ${idle}`,
  );
  // The histogram records whole sampling intervals; subtract the interval to get the delay itself.
  const eldMs = (ns: number): string => fmt(Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS), 2);
  print(
    `event-loop delay ms (beyond the ${ELD_RESOLUTION_MS} ms sampling interval): p50 ${eldMs(eld.percentile(50))}  ` +
      `p99 ${eldMs(eld.percentile(99))}  max ${eldMs(eld.max)}`,
  );
  print(
    `process CPU ${fmt((100 * (cpu.user + cpu.system)) / 1000 / wallMs, 1)} % of one core ` +
      `(user ${fmt(cpu.user / 10 / wallMs, 1)} %, system ${fmt(cpu.system / 10 / wallMs, 1)} %)`,
  );
  print(`GC during the run: ${gc.minor} minor, ${gc.major} major, ${fmt(gc.pauseMs, 1)} ms total pause`);
  const checksum = calls.reduce((s, c) => (s + c.sink.checksum) | 0, 0);
  if (checksum === 0x7fff_ffff) print('(checksum guard)');
}
