/**
 * The media half of a victim caller in the front-door tests: sipp does the signalling, this plain UDP socket
 * (on the victim's address, at the port sipp's SDP advertises) sends a WAV as PCMU RTP every 20 ms and counts
 * what comes back. G.711 µ-law is g711-reference.ts (from ITU-T G.711, not the server's codec), so both
 * sides cannot share a bug.
 */
import dgram from 'node:dgram';
import { muLawDecode, muLawEncode } from './g711-reference.js';

const FRAME_SAMPLES = 160; // 20 ms at 8 kHz

/** 20 ms frames of 8 kHz PCM16 whose RMS exceeds `threshold`: how much speech a signal holds, in media time. */
export function speechFrames(samples: Int16Array, threshold = 300): number {
  let frames = 0;
  for (let i = 0; i + FRAME_SAMPLES <= samples.length; i += FRAME_SAMPLES) {
    let sum = 0;
    for (let j = i; j < i + FRAME_SAMPLES; j++) sum += (samples[j] ?? 0) ** 2;
    if (Math.sqrt(sum / FRAME_SAMPLES) > threshold) frames++;
  }
  return frames;
}

export class VictimRtp {
  private readonly socket = dgram.createSocket('udp4');
  private seq = 1;
  private timestamp = 0;
  private readonly ssrc = 0x5eed1234;
  /** RTP packets received, and how many of them carried speech-level audio (RMS above the threshold). */
  received = 0;
  speechFrames = 0;

  private constructor(private readonly speechRms: number) {
    this.socket.on('message', (data) => {
      const first = data[0];
      if (data.length < 12 || first === undefined || first >> 6 !== 2) return;
      this.received++;
      const payload = data.subarray(12 + 4 * (first & 0x0f));
      let sum = 0;
      for (const b of payload) sum += muLawDecode(b) ** 2;
      if (payload.length > 0 && Math.sqrt(sum / payload.length) > this.speechRms) this.speechFrames++;
    });
  }

  static async bind(host: string, port: number, speechRms = 300): Promise<VictimRtp> {
    const peer = new VictimRtp(speechRms);
    await new Promise<void>((resolve, reject) => {
      peer.socket.once('error', reject);
      peer.socket.bind(port, host, () => resolve());
    });
    return peer;
  }

  /**
   * Sends `samples` (8 kHz PCM16) then `silenceMs` of silence to `remote`, one 20 ms PCMU packet per tick,
   * paced from the start so a late tick does not slow the stream. Bounded by the number of frames.
   */
  async play(
    remote: { address: string; port: number },
    samples: Int16Array,
    silenceMs: number,
  ): Promise<void> {
    const frames = Math.ceil(samples.length / FRAME_SAMPLES) + Math.ceil(silenceMs / 20);
    const start = performance.now();
    for (let i = 0; i < frames; i++) {
      const packet = Buffer.alloc(12 + FRAME_SAMPLES);
      packet[0] = 0x80;
      packet[1] = 0; // PCMU
      packet.writeUInt16BE(this.seq++ & 0xffff, 2);
      packet.writeUInt32BE(this.timestamp >>> 0, 4);
      packet.writeUInt32BE(this.ssrc, 8);
      for (let j = 0; j < FRAME_SAMPLES; j++)
        packet[12 + j] = muLawEncode(samples[i * FRAME_SAMPLES + j] ?? 0);
      this.timestamp += FRAME_SAMPLES;
      this.socket.send(packet, remote.port, remote.address);
      const wait = start + (i + 1) * 20 - performance.now();
      await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    }
  }

  close(): void {
    this.socket.close();
  }
}
