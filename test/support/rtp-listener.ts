/**
 * The media half of a sipp caller that mostly listens: it sends 20 ms PCMU silence (so the server latches
 * and greets) and records every RTP packet the server sends back with its sequence number, RTP timestamp and
 * dominant tone (toneOf, computed without the server's codec code). Gaps are measured on the sender's media
 * clock, from RTP timestamps (RFC 3550 §5.1: the timestamp advances with the sampling clock whether or not a
 * packet is sent), never from arrival times.
 */
import { createSocket, type Socket } from 'node:dgram';
import { mulaw } from 'alawmulaw';
import { toneOf } from './tone-caller.js';

const FRAME_SAMPLES = 160;
const CLOCK_HZ = 8000;
const MAX_RECORDED = 20_000;
const SILENCE = Buffer.alloc(FRAME_SAMPLES, 0xff); // µ-law 0xff: linear 0

export interface HeardPacket {
  readonly sequence: number;
  readonly timestamp: number;
  readonly toneHz: number;
}

/** One stretch of consecutive frames of one tone class (0 = silence). */
export interface ToneRun {
  readonly toneHz: number;
  readonly frames: number;
  readonly firstTimestamp: number;
  readonly lastTimestamp: number;
}

export class RtpListener {
  readonly received: HeardPacket[] = [];
  readonly #socket: Socket;
  #timer: NodeJS.Timeout | undefined;
  #sent = 0;
  #sequence = 4000;
  #timestamp = 160_000;
  /** µ-law frames to send instead of silence (the caller speaks: say()). */
  readonly #speech: Buffer[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (msg) => {
      if (msg.length < 13 || msg[0]! >> 6 !== 2 || (msg[1]! & 0x7f) !== 0) return;
      if (this.received.length >= MAX_RECORDED) return;
      const offset = 12 + 4 * (msg[0]! & 0x0f);
      this.received.push({
        sequence: msg.readUInt16BE(2),
        timestamp: msg.readUInt32BE(4),
        toneHz: toneOf(msg.subarray(offset)),
      });
    });
  }

  static async bind(host: string, port: number): Promise<RtpListener> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new RtpListener(socket);
  }

  /** Send silence to `target` every 20 ms (paced from the start), at most `maxFrames` frames. */
  start(target: { address: string; port: number }, maxFrames = 3000): void {
    const startedAt = performance.now();
    this.#timer = setInterval(() => {
      const due = Math.min(maxFrames, Math.floor((performance.now() - startedAt) / 20));
      for (let n = 0; this.#sent < due && n < 10; n++) {
        const p = Buffer.alloc(12 + FRAME_SAMPLES);
        p[0] = 0x80;
        p.writeUInt16BE(this.#sequence, 2);
        p.writeUInt32BE(this.#timestamp >>> 0, 4);
        p.writeUInt32BE(0x10551055, 8);
        (this.#speech.shift() ?? SILENCE).copy(p, 12);
        this.#socket.send(p, target.port, target.address);
        this.#sequence = (this.#sequence + 1) & 0xffff;
        this.#timestamp = (this.#timestamp + FRAME_SAMPLES) >>> 0;
        this.#sent++;
      }
      if (this.#sent >= maxFrames) clearInterval(this.#timer);
    }, 10);
  }

  /** The caller speaks: 8 kHz PCM sent in place of the next silence frames (on the same media clock). */
  say(pcm8k: Int16Array): void {
    const encoded = Buffer.from(mulaw.encode(pcm8k));
    for (let i = 0; i + FRAME_SAMPLES <= encoded.length; i += FRAME_SAMPLES)
      this.#speech.push(encoded.subarray(i, i + FRAME_SAMPLES));
  }

  /** Frames received whose tone is within ±15 % of `hz`. */
  count(hz: number): number {
    return this.received.filter((p) => near(p.toneHz, hz)).length;
  }

  /** The received packets grouped into runs of one tone (each packet classed as the nearest of `tones`). */
  runs(tones: readonly number[]): ToneRun[] {
    const out: Array<{ toneHz: number; frames: number; firstTimestamp: number; lastTimestamp: number }> = [];
    for (const p of this.received) {
      const toneHz = tones.find((t) => near(p.toneHz, t)) ?? 0;
      const last = out[out.length - 1];
      if (last !== undefined && last.toneHz === toneHz) {
        last.frames++;
        last.lastTimestamp = p.timestamp;
      } else out.push({ toneHz, frames: 1, firstTimestamp: p.timestamp, lastTimestamp: p.timestamp });
    }
    return out;
  }

  /**
   * Dead air between the last frame of tone `fromHz` heard before the first frame of tone `toHz`, in ms of
   * the sender's media clock: the RTP timestamp distance minus the one frame the last packet carried.
   * undefined when either tone never arrived in that order.
   */
  gapMs(fromHz: number, toHz: number): number | undefined {
    const firstTo = this.received.findIndex((p) => near(p.toneHz, toHz));
    if (firstTo < 0) return undefined;
    let lastFrom = -1;
    for (let i = firstTo - 1; i >= 0 && lastFrom < 0; i--)
      if (near(this.received[i]!.toneHz, fromHz)) lastFrom = i;
    if (lastFrom < 0) return undefined;
    const ticks = (this.received[firstTo]!.timestamp - this.received[lastFrom]!.timestamp) >>> 0;
    return (ticks * 1000) / CLOCK_HZ - (FRAME_SAMPLES * 1000) / CLOCK_HZ;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }
}

function near(measuredHz: number, hz: number): boolean {
  return Math.abs(measuredHz - hz) <= hz * 0.15;
}
