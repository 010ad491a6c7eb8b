import type { AudioFormat } from '../agent/events.js';
import type { ProviderCapabilities } from '../agent/provider.js';
import type { Codec } from '../media/codecs/codec.js';
import { Resampler } from '../media/dsp/resampler.js';

/** The agent formats chosen for a call: G.711 passthrough when the provider takes the call's codec. */
export function chooseAgentFormats(
  codec: Pick<Codec, 'name' | 'sampleRateHz'>,
  caps: ProviderCapabilities,
): { input: AudioFormat; output: AudioFormat } {
  const g711 = codec.name === 'PCMU' ? 'pcmu' : codec.name === 'PCMA' ? 'pcma' : undefined;
  const pick = (formats: readonly AudioFormat[]): AudioFormat => {
    const direct = formats.find((f) => f.encoding === g711);
    if (direct !== undefined) return direct;
    const pcm = formats.filter((f) => f.encoding === 'pcm16');
    // Prefer the PCM rate equal to the codec's, else the provider's first choice.
    const same = pcm.find((f) => f.sampleRateHz === codec.sampleRateHz);
    const chosen = same ?? pcm[0] ?? formats[0];
    if (chosen === undefined) throw new Error('provider declares no audio formats');
    return chosen;
  };
  return { input: pick(caps.inputFormats), output: pick(caps.outputFormats) };
}

function isG711Match(codec: Pick<Codec, 'name'>, format: AudioFormat): boolean {
  return (
    (codec.name === 'PCMU' && format.encoding === 'pcmu') ||
    (codec.name === 'PCMA' && format.encoding === 'pcma')
  );
}

/** Cleans decoded caller audio in place before anyone hears it (echo canceller + noise suppressor, uplink-cleanup.ts). */
export interface UplinkCleaner {
  process(pcm: Int16Array): void;
}

/**
 * Caller audio, one RTP payload per 20 ms, to the agent's input format: passed through untouched when the
 * provider takes the call's G.711, else decoded, resampled and handed over as PCM16. Buffers are reused
 * between frames (the Agent contract lets the caller reuse pushed audio).
 */
export class InboundBridge {
  readonly mode: 'passthrough' | 'transcode';
  readonly #codec: Codec;
  readonly #push: (audio: Buffer | Int16Array) => void;
  readonly #resampler: Resampler | undefined;
  readonly #decoded: Int16Array;
  readonly #resampled: Int16Array;
  readonly #echo: UplinkCleaner | undefined;
  readonly #reencoded: Buffer = Buffer.alloc(0);

  constructor(
    codec: Codec,
    target: AudioFormat,
    push: (audio: Buffer | Int16Array) => void,
    options: { readonly maxFrameMs?: number; readonly echo?: UplinkCleaner | undefined } = {},
  ) {
    this.#codec = codec;
    this.#push = push;
    this.#echo = options.echo;
    const maxFrameMs = options.maxFrameMs ?? 120;
    if (isG711Match(codec, target)) {
      this.mode = 'passthrough';
      // With echo cancellation the G.711 is decoded, cleaned and encoded again (table lookups both ways).
      const samples = this.#echo === undefined ? 0 : Math.ceil((codec.sampleRateHz * maxFrameMs) / 1000);
      this.#decoded = new Int16Array(samples);
      this.#reencoded = Buffer.alloc(samples);
      this.#resampled = new Int16Array(0);
      return;
    }
    if (target.encoding !== 'pcm16')
      throw new Error(`cannot feed ${codec.name} audio to an agent expecting ${target.encoding}`);
    this.mode = 'transcode';
    this.#decoded = new Int16Array(Math.ceil((codec.sampleRateHz * maxFrameMs) / 1000));
    if (codec.sampleRateHz !== target.sampleRateHz) {
      this.#resampler = new Resampler(codec.sampleRateHz, target.sampleRateHz);
      this.#resampled = new Int16Array(this.#resampler.maxOutputSamples(this.#decoded.length));
    } else {
      this.#resampled = new Int16Array(0);
    }
  }

  /** True when a resampler was instantiated for this call (tests check passthrough creates none). */
  get resampling(): boolean {
    return this.#resampler !== undefined;
  }

  /** One frame of caller audio as received (after the jitter buffer). */
  frame(payload: Buffer): void {
    if (this.mode === 'passthrough' && this.#echo === undefined) {
      this.#push(payload);
      return;
    }
    const n = this.#codec.decode(payload, this.#decoded);
    if (n === 0) return;
    const pcm = this.#decoded.subarray(0, n);
    this.#echo?.process(pcm);
    if (this.mode === 'passthrough') {
      this.#push(this.#reencoded.subarray(0, this.#codec.encode(pcm, this.#reencoded)));
      return;
    }
    if (this.#resampler === undefined) {
      this.#push(pcm);
      return;
    }
    const m = this.#resampler.process(pcm, this.#resampled);
    if (m > 0) this.#push(this.#resampled.subarray(0, m));
  }
}

/**
 * Where the outbound bridge puts frames. A bounded sink (the call's PlayoutStream) also says how many frames
 * still fit and takes a count of the ones dropped before they were even encoded.
 */
export interface OutboundSink {
  enqueue(frame: Buffer, itemId: string, responseId: string): unknown;
  /** Frames that still fit under the call's cap of audio queued ahead of playout. */
  readonly roomFrames?: number;
  /** Counts frames dropped because they did not fit (logged once and counted like refused ones). */
  refuse?(frames: number): void;
}

/** Input is resampled and encoded in pieces of at most this much: scratch buffers stay small (issue 11). */
const MAX_PIECE_MS = 1000;

/**
 * Agent audio (any chunk size, in the agent's output format) to encoded frames of one ptime each, tagged with
 * the agent item they belong to. A partial frame is completed with silence when the item changes or ends.
 *
 * Bounded (issue 11): audio beyond what the sink has room for is dropped before any resampling or encoding,
 * and a huge chunk (a hostile provider's 60 MB frame) is processed in pieces of {@link MAX_PIECE_MS}, so
 * neither the queue nor this bridge's scratch memory grows with what the provider sends.
 */
export class OutboundBridge {
  readonly mode: 'passthrough' | 'transcode';
  readonly #codec: Codec;
  readonly #sink: OutboundSink;
  readonly #resampler: Resampler | undefined;
  readonly #frameSamples: number;
  readonly #ptimeMs: number;
  readonly #sourceRateHz: number;
  /** Source units (bytes for G.711 passthrough, samples for PCM16) per frame sent. */
  readonly #unitsPerFrame: number;
  #droppedMs = 0;
  readonly #frameBytes: number;
  /** Pending samples (transcode) or bytes (passthrough) of the current item. */
  readonly #pendingPcm: Int16Array;
  readonly #pendingBytes: Buffer;
  #pending = 0;
  #resampled: Int16Array = new Int16Array(0);
  #item: { itemId: string; responseId: string } | undefined;
  readonly #silenceByte: number;
  /** Upper bound of one encoded frame: one byte per sample for G.711, an Opus packet's maximum otherwise. */
  readonly #maxEncodedBytes: number;

  constructor(
    source: AudioFormat,
    codec: Codec,
    ptimeMs: number,
    sink: OutboundSink | ((frame: Buffer, itemId: string, responseId: string) => void),
  ) {
    this.#codec = codec;
    this.#sink = typeof sink === 'function' ? { enqueue: sink } : sink;
    this.#frameSamples = codec.frameSamples(ptimeMs);
    this.#ptimeMs = ptimeMs;
    this.#sourceRateHz = source.sampleRateHz;
    this.#unitsPerFrame = Math.round((source.sampleRateHz * ptimeMs) / 1000);
    this.#silenceByte = codec.name === 'PCMA' ? 0xd5 : 0xff;
    this.#maxEncodedBytes = codec.name === 'opus' ? 1275 : this.#frameSamples;
    if (isG711Match(codec, source)) {
      this.mode = 'passthrough';
      this.#frameBytes = this.#frameSamples;
      this.#pendingBytes = Buffer.alloc(this.#frameBytes);
      this.#pendingPcm = new Int16Array(0);
      return;
    }
    if (source.encoding !== 'pcm16')
      throw new Error(`cannot play ${source.encoding} agent audio on ${codec.name}`);
    this.mode = 'transcode';
    this.#frameBytes = 0;
    this.#pendingBytes = Buffer.alloc(0);
    this.#pendingPcm = new Int16Array(this.#frameSamples);
    if (source.sampleRateHz !== codec.sampleRateHz)
      this.#resampler = new Resampler(source.sampleRateHz, codec.sampleRateHz);
  }

  get resampling(): boolean {
    return this.#resampler !== undefined;
  }

  /** ms of agent audio dropped here because the call's queue was full. */
  get droppedMs(): number {
    return this.#droppedMs;
  }

  /** A chunk of agent audio. PCM16 chunks are little-endian bytes, as providers send them. */
  push(audio: Buffer, itemId: string, responseId: string): void {
    if (this.#item !== undefined && this.#item.itemId !== itemId) this.endItem();
    this.#item = { itemId, responseId };
    const unitBytes = this.mode === 'passthrough' ? 1 : 2;
    const pieceBytes = Math.max(
      unitBytes,
      Math.round((this.#sourceRateHz * MAX_PIECE_MS) / 1000) * unitBytes,
    );
    for (let offset = 0; offset < audio.length; offset += pieceBytes) {
      const end = Math.min(audio.length, offset + pieceBytes);
      const room = this.#sink.roomFrames;
      if (room !== undefined) {
        // Whole frames that still fit, minus what is already pending toward the next one (codec units).
        const pending = Math.round((this.#pending * this.#sourceRateHz) / this.#codec.sampleRateHz);
        const roomBytes = Math.max(0, room * this.#unitsPerFrame - pending) * unitBytes;
        if (roomBytes < end - offset) {
          if (roomBytes > 0) this.#pushPiece(audio.subarray(offset, offset + roomBytes));
          this.#drop(audio.length - offset - roomBytes, unitBytes);
          return;
        }
      }
      this.#pushPiece(end - offset === audio.length ? audio : audio.subarray(offset, end));
    }
  }

  #drop(bytes: number, unitBytes: number): void {
    if (bytes <= 0) return;
    const ms = (bytes / unitBytes / this.#sourceRateHz) * 1000;
    this.#droppedMs += ms;
    this.#sink.refuse?.(Math.ceil(ms / this.#ptimeMs));
  }

  #pushPiece(audio: Buffer): void {
    if (this.mode === 'passthrough') {
      let offset = 0;
      while (offset < audio.length) {
        const take = Math.min(this.#frameBytes - this.#pending, audio.length - offset);
        audio.copy(this.#pendingBytes, this.#pending, offset, offset + take);
        this.#pending += take;
        offset += take;
        if (this.#pending === this.#frameBytes) this.#emitBytes();
      }
      return;
    }
    const samples = audio.length >> 1;
    let pcm: Int16Array;
    if (audio.byteOffset % 2 === 0) {
      pcm = new Int16Array(audio.buffer, audio.byteOffset, samples);
    } else {
      // Int16Array views need 2-byte alignment: copy once (STYLE.md §10).
      pcm = new Int16Array(samples);
      for (let i = 0; i < samples; i++) pcm[i] = audio.readInt16LE(i * 2);
    }
    if (this.#resampler !== undefined) {
      const need = this.#resampler.maxOutputSamples(samples);
      if (this.#resampled.length < need) this.#resampled = new Int16Array(need);
      const n = this.#resampler.process(pcm, this.#resampled);
      pcm = this.#resampled.subarray(0, n);
    }
    let offset = 0;
    while (offset < pcm.length) {
      const take = Math.min(this.#frameSamples - this.#pending, pcm.length - offset);
      this.#pendingPcm.set(pcm.subarray(offset, offset + take), this.#pending);
      this.#pending += take;
      offset += take;
      if (this.#pending === this.#frameSamples) this.#emitPcm();
    }
  }

  /** The current item is complete: send its last partial frame, padded with silence. */
  endItem(): void {
    if (this.#pending > 0 && this.#item !== undefined) {
      if (this.mode === 'passthrough') {
        this.#pendingBytes.fill(this.#silenceByte, this.#pending);
        this.#emitBytes();
      } else {
        this.#pendingPcm.fill(0, this.#pending);
        this.#emitPcm();
      }
    }
    this.#item = undefined;
  }

  /** Barge-in: forget the partial frame and any resampler history of the interrupted audio. */
  reset(): void {
    this.#pending = 0;
    this.#item = undefined;
    this.#resampler?.reset();
  }

  #emitBytes(): void {
    const item = this.#item;
    this.#pending = 0;
    if (item === undefined) return;
    this.#sink.enqueue(Buffer.from(this.#pendingBytes), item.itemId, item.responseId);
  }

  #emitPcm(): void {
    const item = this.#item;
    this.#pending = 0;
    if (item === undefined) return;
    // The playout queue owns each frame until it is sent; allocUnsafe draws small buffers from Node's pool.
    const out = Buffer.allocUnsafe(this.#maxEncodedBytes);
    const bytes = this.#codec.encode(this.#pendingPcm, out);
    if (bytes > 0) this.#sink.enqueue(out.subarray(0, bytes), item.itemId, item.responseId);
  }
}

/**
 * Both bridges of a call for the agent's formats `f` (built again when a failover target's provider takes
 * other formats: issue 15). The playout itself is the outbound sink: the bridge drops what exceeds the
 * per-call cap before encoding it.
 */
export function agentBridges(
  media: { readonly codec: Codec; readonly ptimeMs: number; readonly playout: OutboundSink },
  f: { readonly input: AudioFormat; readonly output: AudioFormat },
  push: (audio: Buffer | Int16Array) => void,
  echo: UplinkCleaner | undefined,
): { inbound: InboundBridge; outbound: OutboundBridge } {
  return {
    inbound: new InboundBridge(media.codec, f.input, push, { echo }),
    outbound: new OutboundBridge(f.output, media.codec, media.ptimeMs, media.playout),
  };
}
