/**
 * The media half of a caller on a line that echoes: every 20 ms it sends back what it received from the server
 * `delayFrames` frames earlier, attenuated by `gainDb` (a PSTN hybrid or a speakerphone), plus a noise floor,
 * with a fixed echo delay: received audio is placed on the server's RTP timeline (its timestamps) and the
 * uplink frame k carries the samples `delayFrames` frames before the ones that arrived at frame k,
 * as PCMU (µ-law per ITU-T G.711, g711-reference.ts: none of the server's codec code). It also counts every
 * frame the server sent with audio in it, so a test can tell whether the agent's reply was heard in full.
 * Frames are counted in packets (media time), never wall time.
 */
import { createSocket, type Socket } from 'node:dgram';
import { muLawDecode, muLawEncode } from './g711-reference.js';

const FRAME = 160;
const RING = 8000 * 2; // 2 s of the server's timeline
const MAX_CATCH_UP = 10;

export interface LineEchoOptions {
  readonly delayFrames?: number;
  readonly gainDb?: number;
  /** Noise floor, dBFS (uniform white noise). */
  readonly noiseDbfs?: number;
}

export class LineEchoPeer {
  /** Frames received from the server whose level was above −50 dBFS (agent audio). */
  audibleFrames = 0;
  framesReceived = 0;
  readonly #socket: Socket;
  readonly #ring = new Int16Array(RING);
  /** Server timestamp that maps to uplink frame 0, once the first packet arrived. */
  #base: number | undefined;
  #latest = 0;
  readonly #delay: number;
  readonly #gain: number;
  readonly #noiseAmp: number;
  readonly #packet = Buffer.alloc(12 + FRAME);
  #seed = 12345;
  #target: { address: string; port: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #sent = 0;
  #sequence = 100;
  #timestamp = 3200;

  private constructor(socket: Socket, options: LineEchoOptions) {
    this.#socket = socket;
    this.#delay = options.delayFrames ?? 2;
    this.#gain = 10 ** ((options.gainDb ?? -12) / 20);
    this.#noiseAmp = 32768 * 10 ** ((options.noiseDbfs ?? -60) / 20) * Math.sqrt(3);
    socket.on('message', (msg) => {
      if (msg.length < 12 + FRAME || msg[0]! >> 6 !== 2 || (msg[1]! & 0x7f) !== 0) return;
      const offset = 12 + 4 * (msg[0]! & 0x0f);
      const timestamp = msg.readUInt32BE(4);
      // The first packet pins the server's timeline to ours: it arrived during uplink frame #sent.
      this.#base ??= (timestamp - this.#sent * FRAME) >>> 0;
      let energy = 0;
      for (let i = 0; i < FRAME; i++) {
        const s = muLawDecode(msg[offset + i] ?? 0xff);
        this.#ring[(timestamp + i) % RING] = s;
        energy += s * s;
      }
      this.#latest = timestamp + FRAME;
      this.framesReceived++;
      if (Math.sqrt(energy / FRAME) > 104) this.audibleFrames++; // −50 dBFS
    });
  }

  static async bind(host: string, port: number, options: LineEchoOptions = {}): Promise<LineEchoPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new LineEchoPeer(socket, options);
  }

  /** Starts the 20 ms uplink toward the server's media address. */
  start(target: { address: string; port: number }): void {
    this.#target = target;
    this.#startedAt = performance.now();
    this.#timer = setInterval(() => this.#pump(), 10);
  }

  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  #noise(): number {
    this.#seed = (Math.imul(this.#seed, 1664525) + 1013904223) >>> 0;
    return (this.#seed / 2 ** 31 - 1) * this.#noiseAmp;
  }

  #pump(): void {
    const target = this.#target;
    if (target === undefined) return;
    const due = Math.floor((performance.now() - this.#startedAt) / 20);
    for (let n = 0; this.#sent < due && n < MAX_CATCH_UP; n++) {
      // The echo: the server's audio `delay` frames before the frame that maps to this uplink frame.
      const from =
        this.#base === undefined ? undefined : (this.#base + (this.#sent - this.#delay) * FRAME) >>> 0;
      const echo = from !== undefined && from + FRAME <= this.#latest && this.#latest - from < RING;
      const p = this.#packet;
      p[0] = 0x80;
      p[1] = 0;
      p.writeUInt16BE(this.#sequence, 2);
      p.writeUInt32BE(this.#timestamp >>> 0, 4);
      p.writeUInt32BE(0x5eed_0001, 8);
      for (let i = 0; i < FRAME; i++) {
        const heard = echo ? (this.#ring[(from + i) % RING] as number) : 0;
        // Samples of the timeline the server sent nothing for are silence: clear them once echoed.
        if (echo) this.#ring[(from + i) % RING] = 0;
        const v = heard * this.#gain + this.#noise();
        p[12 + i] = muLawEncode(Math.max(-32768, Math.min(32767, Math.round(v))));
      }
      this.#socket.send(p, target.port, target.address);
      this.#sequence = (this.#sequence + 1) & 0xffff;
      this.#timestamp += FRAME;
      this.#sent++;
    }
  }
}
