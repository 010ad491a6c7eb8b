import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Counter } from 'prom-client';
import type { RtcpStats } from '../media/rtp/rtcp-session.js';
import type { Logger } from '../observability/logger.js';

export const RECORDING_FORMAT_VERSION = 1;

export interface RecordingMeta {
  readonly callId: string;
  readonly tenant: string;
  readonly from: string;
  readonly to: string;
  readonly codec: string;
  readonly provider: string;
  readonly direction: 'inbound' | 'outbound';
  /** The agent profile that answered (no secrets: credentials live in the tenant store), for replays. */
  readonly profile?: unknown;
  /** Caller identity and configured headers (call-variables.ts); redacted with the numbers. */
  readonly variables?: Readonly<Record<string, string>>;
}

export interface RecorderOptions {
  readonly dir: string;
  readonly meta: RecordingMeta;
  /** PCM rate of the call's codec: the WAV's rate. */
  readonly sampleRateHz: number;
  readonly frameSamples: number;
  /** Decoders for the two channels (separate instances: stateful codecs keep per-stream state). */
  readonly decodeCaller: (payload: Buffer, out: Int16Array) => number;
  readonly decodeAgent: (payload: Buffer, out: Int16Array) => number;
  readonly logger: Logger;
  readonly failures?: Counter;
  readonly now?: () => number;
  /** Replace from/to with "[redacted]" in call.json. */
  readonly redactNumbers?: boolean;
  readonly flushIntervalMs?: number;
  /** Pending bytes beyond which the recording stops rather than grow memory (slow or full disk). */
  readonly maxPendingBytes?: number;
}

const WAV_HEADER_BYTES = 44;

function wavHeader(sampleRateHz: number, channels: number, dataBytes: number): Buffer {
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRateHz, 24);
  h.writeUInt32LE(sampleRateHz * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** A base64 run this long is audio (or an image), never a protocol field worth keeping verbatim. */
const LONG_BASE64 = /^[A-Za-z0-9+/]{512,}={0,2}$/;

/**
 * Every adapter's wire tap already replaces audio by `{audioMs, bytes}`; this is the recorder's backstop for
 * messages a tap passes through unchanged (unknown event types), so a recording never balloons with audio.
 */
function withoutAudio(message: unknown, depth = 0): unknown {
  if (typeof message === 'string')
    return LONG_BASE64.test(message) ? { bytes: Buffer.byteLength(message, 'base64') } : message;
  if (depth > 8 || typeof message !== 'object' || message === null) return message;
  if (Array.isArray(message)) return message.map((m) => withoutAudio(m, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(message)) out[k] = withoutAudio(v, depth + 1);
  return out;
}

/**
 * Records one call into `<dir>/<callId>/` (the server passes `RECORDINGS_DIR/<tenant>` as `dir`, so a
 * tenant's recordings sit in a folder of their own that its replays are confined to): call.json (metadata, no secrets), audio.wav (stereo PCM16: left
 * the caller as played out of the jitter buffer, right the agent as actually sent on RTP, one frame per
 * tick so both stay aligned to the call clock) and events.jsonl (the timeline). Writing never blocks the
 * media path: frames and events are buffered and flushed every second in the background, so a crash loses at
 * most the last second; a write error (full disk) stops the recording with a metric, never the call.
 */
export class CallRecorder {
  readonly path: string;
  readonly #o: RecorderOptions;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #decoded: Int16Array;
  #audioChunks: Buffer[] = [];
  #block: Buffer | undefined;
  #blockUsed = 0;
  #eventLines: string[] = [];
  #pendingBytes = 0;
  #dataBytes = 0;
  #wav: FileHandle | undefined;
  #events: FileHandle | undefined;
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #stopped: string | undefined;
  #closed = false;
  #counters = { bargeIns: 0, toolCalls: 0 };
  #quality: RtcpStats | undefined;
  readonly #tools: unknown[] = [];
  #endingReason: string | undefined;

  constructor(options: RecorderOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.path = join(options.dir, options.meta.callId);
    this.#decoded = new Int16Array(options.frameSamples * 6);
    this.#chain = this.#open();
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1000);
    this.#timer.unref();
  }

  /** Why the recording stopped early, if it did. */
  get stoppedReason(): string | undefined {
    return this.#stopped;
  }

  async #open(): Promise<void> {
    try {
      await mkdir(this.path, { recursive: true, mode: 0o750 });
      this.#wav = await open(join(this.path, 'audio.wav'), 'w', 0o640);
      await this.#wav.write(wavHeader(this.#o.sampleRateHz, 2, 0), 0, WAV_HEADER_BYTES, 0);
      this.#events = await open(join(this.path, 'events.jsonl'), 'w', 0o640);
      await this.#writeMeta();
    } catch (err) {
      this.#stop(`cannot create recording: ${(err as Error).message}`);
    }
  }

  /** One tick of audio: the caller frame as played out and the agent frame as sent (either may be absent). */
  frame(caller: Buffer | undefined, sent: Buffer | undefined): void {
    if (this.#stopped !== undefined || this.#closed) return;
    const n = this.#o.frameSamples;
    const frameBytes = n * 4;
    // Frames go into one preallocated block per ~second, not a buffer per frame.
    if (this.#block === undefined || this.#blockUsed + frameBytes > this.#block.length) {
      this.#sealBlock();
      this.#block = Buffer.alloc(frameBytes * 50);
      this.#blockUsed = 0;
    }
    const stereo = this.#block.subarray(this.#blockUsed, this.#blockUsed + frameBytes);
    stereo.fill(0);
    this.#channel(caller, this.#o.decodeCaller, stereo, 0, n);
    this.#channel(sent, this.#o.decodeAgent, stereo, 2, n);
    this.#blockUsed += frameBytes;
    this.#grow(frameBytes);
  }

  #sealBlock(): void {
    if (this.#block !== undefined && this.#blockUsed > 0)
      this.#audioChunks.push(this.#block.subarray(0, this.#blockUsed));
    this.#block = undefined;
    this.#blockUsed = 0;
  }

  #channel(
    payload: Buffer | undefined,
    decode: RecorderOptions['decodeCaller'],
    out: Buffer,
    offset: number,
    n: number,
  ): void {
    if (payload === undefined) return;
    const got = Math.min(decode(payload, this.#decoded), n);
    for (let i = 0; i < got; i++) out.writeInt16LE(this.#decoded[i] ?? 0, i * 4 + offset);
  }

  /** One timeline entry; `t` is ms since the recording (the answer) started. */
  event(kind: string, data: Record<string, unknown>): void {
    if (this.#stopped !== undefined || this.#closed) return;
    if (kind === 'barge-in' && data.action === 'interrupted') this.#counters.bargeIns++;
    if (kind === 'tool.call') this.#counters.toolCalls++;
    if (kind === 'tool.result') this.#tools.push(data);
    let line: string;
    try {
      const record = kind === 'wire' ? { ...data, message: withoutAudio(data.message) } : data;
      line = JSON.stringify({ t: this.#now() - this.#startedAt, kind, ...record });
    } catch {
      line = JSON.stringify({ t: this.#now() - this.#startedAt, kind, unserialisable: true });
    }
    this.#eventLines.push(line);
    this.#grow(line.length + 1);
  }

  #grow(bytes: number): void {
    this.#pendingBytes += bytes;
    if (this.#pendingBytes > (this.#o.maxPendingBytes ?? 8 * 1024 * 1024))
      this.#stop('recording fell behind: disk too slow');
  }

  /** Write what is buffered (serialised with earlier flushes). */
  flush(): Promise<void> {
    this.#sealBlock();
    const audio = this.#audioChunks;
    const lines = this.#eventLines;
    this.#audioChunks = [];
    this.#eventLines = [];
    this.#pendingBytes = 0;
    this.#chain = this.#chain.then(() => this.#write(audio, lines));
    return this.#chain;
  }

  async #write(audio: Buffer[], lines: string[]): Promise<void> {
    if (this.#stopped !== undefined || this.#wav === undefined || this.#events === undefined) return;
    try {
      if (audio.length > 0) {
        const data = Buffer.concat(audio);
        await this.#wav.write(data, 0, data.length, WAV_HEADER_BYTES + this.#dataBytes);
        this.#dataBytes += data.length;
        // Patch the RIFF and data sizes so the file is a valid WAV up to this flush.
        const h = wavHeader(this.#o.sampleRateHz, 2, this.#dataBytes);
        await this.#wav.write(h, 0, WAV_HEADER_BYTES, 0);
      }
      if (lines.length > 0) await this.#events.appendFile(`${lines.join('\n')}\n`);
    } catch (err) {
      this.#stop(`write failed: ${(err as Error).message}`);
    }
  }

  async #writeMeta(endedAt?: number): Promise<void> {
    const m = this.#o.meta;
    const redact = this.#o.redactNumbers === true;
    const meta = {
      formatVersion: RECORDING_FORMAT_VERSION,
      callId: m.callId,
      tenant: m.tenant,
      direction: m.direction,
      from: redact ? '[redacted]' : m.from,
      to: redact ? '[redacted]' : m.to,
      codec: m.codec,
      provider: m.provider,
      sampleRateHz: this.#o.sampleRateHz,
      startedAt: new Date(this.#startedAt).toISOString(),
      endedAt: endedAt === undefined ? null : new Date(endedAt).toISOString(),
      endingReason: this.#endingReason ?? null,
      recordingStopped: this.#stopped ?? null,
      profile: m.profile ?? null,
      variables: m.variables === undefined ? null : redact ? '[redacted]' : m.variables,
      toolCalls: this.#tools,
      counters: this.#counters,
      // RTCP figures (RFC 3550 reports, RTT, E-model MOS); null when RTCP was off.
      quality: this.#quality ?? null,
    };
    const fh = await open(join(this.path, 'call.json'), 'w', 0o640);
    try {
      await fh.writeFile(JSON.stringify(meta, null, 2));
    } finally {
      await fh.close();
    }
  }

  #stop(reason: string): void {
    if (this.#stopped !== undefined) return;
    this.#stopped = reason;
    this.#audioChunks = [];
    this.#eventLines = [];
    this.#o.failures?.inc();
    this.#o.logger.warn({ reason }, 'recording stopped');
  }

  /** Final flush; writes call.json with the ending (and the call's RTCP `quality`). Never throws. */
  async close(reason: string, counters?: { bargeIns?: number }, quality?: RtcpStats): Promise<void> {
    if (this.#closed) return;
    this.#endingReason = reason;
    this.#quality = quality;
    if (counters?.bargeIns !== undefined) this.#counters.bargeIns = counters.bargeIns;
    await this.flush();
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      await this.#writeMeta(this.#now());
    } catch (err) {
      this.#stop(`cannot write call.json: ${(err as Error).message}`);
    }
    await this.#wav?.close().catch(() => undefined);
    await this.#events?.close().catch(() => undefined);
  }
}
