/**
 * The RTP side of a test peer, written without the server's RTP code (so a shared bug cannot hide): caller
 * audio packetized into pcap files for sipp, and a socket that records every packet the server sends.
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeAlawSample, encodeAlawSample } from '../../src/media/codecs/g711.js';
import { writePcapUdp, type PcapDatagram } from './pcap.js';
import { SCENARIO_DIR } from './sipp.js';

/** PCM16 → G.711 A-law, sample by sample (test data, not a hot path). */
export function alawEncode(pcm: Int16Array): Buffer {
  const out = Buffer.alloc(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = encodeAlawSample(pcm[i] ?? 0);
  return out;
}

export function alawDecode(payload: Buffer, out: Int16Array, offset: number): void {
  for (let i = 0; i < payload.length && offset + i < out.length; i++)
    out[offset + i] = decodeAlawSample(payload[i] ?? 0xd5);
}

/** 8 kHz PCMA audio as RTP packets of `packetMs` each, one every `packetMs` (pcap time), PT 8. */
export function pcmaRtpDatagrams(pcm8k: Int16Array, packetMs: number, ssrc = 0x1234_5678): PcapDatagram[] {
  const samples = packetMs * 8;
  const out: PcapDatagram[] = [];
  const alaw = alawEncode(pcm8k);
  for (let k = 0; k * samples < alaw.length; k++) {
    const payload = Buffer.alloc(samples, 0xd5);
    alaw.copy(payload, 0, k * samples, Math.min(alaw.length, (k + 1) * samples));
    const rtp = Buffer.alloc(12 + samples);
    rtp[0] = 0x80;
    rtp[1] = (k === 0 ? 0x80 : 0) | 8;
    rtp.writeUInt16BE((1000 + k) & 0xffff, 2);
    rtp.writeUInt32BE((5000 + k * samples) >>> 0, 4);
    rtp.writeUInt32BE(ssrc >>> 0, 8);
    payload.copy(rtp, 12);
    out.push({
      timeUs: 1_700_000_000_000_000 + k * packetMs * 1000,
      srcAddress: '10.0.0.1',
      srcPort: 6000,
      dstAddress: '10.0.0.2',
      dstPort: 7000,
      payload: rtp,
    });
  }
  return out;
}

export interface CapturedRtp {
  readonly payloadType: number;
  readonly marker: boolean;
  readonly sequence: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly payload: Buffer;
  readonly arrivalMs: number;
  readonly from: { readonly address: string; readonly port: number };
}

/** A UDP socket bound to `address:port` (rejects when the port is taken). */
export async function bindUdp4(address: string, port: number): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

/** Binds `address:port` and keeps every RTP packet that arrives (RFC 3550 §5.1 header, no extensions used). */
export class RtpCapture {
  readonly packets: CapturedRtp[] = [];
  readonly #socket: Socket;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (msg, rinfo) => {
      if (msg.length < 12 || msg[0]! >> 6 !== 2) return;
      const cc = msg[0]! & 0x0f;
      this.packets.push({
        payloadType: msg[1]! & 0x7f,
        marker: (msg[1]! & 0x80) !== 0,
        sequence: msg.readUInt16BE(2),
        timestamp: msg.readUInt32BE(4),
        ssrc: msg.readUInt32BE(8),
        payload: Buffer.from(msg.subarray(12 + cc * 4)),
        arrivalMs: performance.now(),
        from: { address: rinfo.address, port: rinfo.port },
      });
    });
  }

  static async open(address: string, port: number): Promise<RtpCapture> {
    return new RtpCapture(await bindUdp4(address, port));
  }

  /** The audio of the packets of `payloadType`, placed by RTP timestamp from the first one (8 kHz A-law). */
  pcmaByTimestamp(payloadType = 8): Int16Array {
    const audio = this.packets.filter((p) => p.payloadType === payloadType);
    const first = audio[0];
    if (first === undefined) return new Int16Array(0);
    let end = 0;
    for (const p of audio) end = Math.max(end, ((p.timestamp - first.timestamp) >>> 0) + p.payload.length);
    const out = new Int16Array(Math.min(end, 8000 * 120));
    for (const p of audio) alawDecode(p.payload, out, (p.timestamp - first.timestamp) >>> 0);
    return out;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

/**
 * test/sip/scenarios/uac-ptime-pcap.xml made ready for one call: `speech` (8 kHz) written as a pcap of
 * `packetMs` PCMA packets, the offer's a=ptime and the time the caller stays on the call filled in (sipp takes
 * no variables in play_pcap_audio). Returns the scenario's path in `dir`.
 */
export async function pcapCallerScenario(
  dir: string,
  name: string,
  o: {
    readonly speech: Int16Array;
    readonly packetMs: number;
    readonly ptimeMs: number;
    readonly callMs: number;
  },
): Promise<string> {
  const pcap = join(dir, `${name}.pcap`);
  writePcapUdp(pcap, pcmaRtpDatagrams(o.speech, o.packetMs));
  const template = await readFile(join(SCENARIO_DIR, 'uac-ptime-pcap.xml'), 'utf8');
  const scenario = join(dir, `${name}.xml`);
  await writeFile(
    scenario,
    template
      .replaceAll('__PCAP__', pcap)
      .replaceAll('__PTIME__', String(o.ptimeMs))
      .replaceAll('__WAIT_MS__', String(o.callMs)),
  );
  return scenario;
}
