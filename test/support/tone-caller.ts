/**
 * The media half of a sipp caller, written without the server's RTP or codec code: a 20 ms PCMU stream of
 * tone bursts and silence (µ-law per ITU-T G.711: g711-reference.ts) sent from one of several local ports, and a
 * record of every packet the server sends back, each classified by the tone it carries. Tones of different
 * frequencies tell which burst an echo belongs to; counts are in packets (media time), never wall time.
 */
import { createSocket, type Socket } from 'node:dgram';
import { muLawDecode, muLawEncode } from './g711-reference.js';

const FRAME_SAMPLES = 160; // 20 ms at 8 kHz
const SAMPLE_RATE_HZ = 8000;
const MAX_CATCH_UP_FRAMES = 10;
const MAX_RECORDED = 20_000;

export interface ReceivedFrame {
  /** Index of the local port it arrived on. */
  readonly port: number;
  /** Dominant frequency estimated from zero crossings (0 for silence). */
  readonly toneHz: number;
  /** What the test was doing when it arrived (set with `mark`). */
  readonly phase: string;
}

/** Estimated tone of a PCMU payload: zero crossings per frame → Hz; 0 when quieter than -40 dBFS. */
export function toneOf(payload: Buffer): number {
  let energy = 0;
  let crossings = 0;
  let previous = 0;
  for (let i = 0; i < payload.length; i++) {
    const s = muLawDecode(payload[i] ?? 0xff);
    energy += s * s;
    if (i > 0 && s >= 0 !== previous >= 0) crossings++;
    previous = s;
  }
  const rms = Math.sqrt(energy / Math.max(1, payload.length));
  if (rms < 330) return 0;
  return Math.round((crossings / 2) * (SAMPLE_RATE_HZ / payload.length));
}

export class ToneCaller {
  readonly received: ReceivedFrame[] = [];
  readonly ports: number[];
  readonly #sockets: Socket[];
  readonly #frame = Buffer.alloc(12 + FRAME_SAMPLES);
  #target: { address: string; port: number } | undefined;
  #from = 0;
  #phase = 'start';
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #sentFrames = 0;
  #sequence = 1000;
  #timestamp = 80_000;
  #phaseSamples = 0;
  readonly #bursts: Array<{ hz: number; frames: number }> = [];

  private constructor(sockets: Socket[]) {
    this.#sockets = sockets;
    this.ports = sockets.map((s) => s.address().port);
    sockets.forEach((socket, index) =>
      socket.on('message', (msg) => {
        if (msg.length < 12 + 1 || msg[0]! >> 6 !== 2 || (msg[1]! & 0x7f) !== 0) return;
        if (this.received.length >= MAX_RECORDED) return;
        const offset = 12 + 4 * (msg[0]! & 0x0f);
        this.received.push({ port: index, toneHz: toneOf(msg.subarray(offset)), phase: this.#phase });
      }),
    );
  }

  /** Binds `count` UDP ports on `host` (ephemeral, or from `basePort` on). */
  static async open(host: string, count: number, basePort = 0): Promise<ToneCaller> {
    const sockets: Socket[] = [];
    for (let i = 0; i < count; i++) {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(basePort === 0 ? 0 : basePort + 2 * i, host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      sockets.push(socket);
    }
    return new ToneCaller(sockets);
  }

  /** Start the 20 ms stream (silence until a burst is queued) toward the server's SDP address. */
  start(target: { address: string; port: number }): void {
    this.#target = target;
    this.#startedAt = performance.now();
    // Frames are due by elapsed time; a late timer sends the missed ones at once (bounded), like a phone.
    this.#timer = setInterval(() => this.#pump(), 10);
  }

  /** Send from local port `index` from now on (same SSRC and sequence: the stream moved, RFC 3264 §8.3.1). */
  sendFrom(index: number): void {
    this.#from = index;
  }

  /** Retarget after the server's SDP changed. */
  retarget(target: { address: string; port: number }): void {
    this.#target = target;
  }

  /** Label what arrives from now on (e.g. 'held'). */
  mark(phase: string): void {
    this.#phase = phase;
  }

  /** Queue a tone burst of `ms` (a multiple of 20) after whatever is queued. */
  burst(hz: number, ms: number): void {
    this.#bursts.push({ hz, frames: Math.round(ms / 20) });
  }

  /** True while a queued burst is still being sent. */
  get speaking(): boolean {
    return this.#bursts.length > 0;
  }

  /** Frames received with a tone near `hz` (±15 %), optionally only on port `port` / in `phase`. */
  count(hz: number, filter: { port?: number; phase?: string } = {}): number {
    return this.received.filter(
      (f) =>
        Math.abs(f.toneHz - hz) <= hz * 0.15 &&
        (filter.port === undefined || f.port === filter.port) &&
        (filter.phase === undefined || f.phase === filter.phase),
    ).length;
  }

  /** Every frame received (any content) in `phase`. */
  countPhase(phase: string): number {
    return this.received.filter((f) => f.phase === phase).length;
  }

  #pump(): void {
    const target = this.#target;
    if (target === undefined) return;
    const due = Math.floor((performance.now() - this.#startedAt) / 20);
    for (let n = 0; this.#sentFrames < due && n < MAX_CATCH_UP_FRAMES; n++) {
      this.#writeFrame();
      this.#sockets[this.#from]!.send(this.#frame, target.port, target.address);
      this.#sentFrames++;
    }
    // A stall longer than the catch-up bound: skip ahead in media time rather than flood.
    if (this.#sentFrames < due) {
      const skipped = due - this.#sentFrames;
      this.#sentFrames = due;
      this.#timestamp = (this.#timestamp + skipped * FRAME_SAMPLES) >>> 0;
    }
  }

  #writeFrame(): void {
    const f = this.#frame;
    f[0] = 0x80;
    f[1] = 0;
    f.writeUInt16BE(this.#sequence, 2);
    f.writeUInt32BE(this.#timestamp, 4);
    f.writeUInt32BE(0x5eed_c0de, 8);
    this.#sequence = (this.#sequence + 1) & 0xffff;
    this.#timestamp = (this.#timestamp + FRAME_SAMPLES) >>> 0;
    const burst = this.#bursts[0];
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      const t = this.#phaseSamples + i;
      const s = burst === undefined ? 0 : 8000 * Math.sin((2 * Math.PI * burst.hz * t) / SAMPLE_RATE_HZ);
      f[12 + i] = muLawEncode(s);
    }
    this.#phaseSamples += FRAME_SAMPLES;
    if (burst !== undefined && --burst.frames <= 0) this.#bursts.shift();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.#sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
