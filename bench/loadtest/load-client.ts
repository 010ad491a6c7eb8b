/**
 * The SIP load client: N calls from one process over one EmbeddedSignaling, one Ticker and one port pool
 * (the Softphone's shared mode), each streaming the caller prompt looped with a pause, so the echo agent
 * (or the OpenAI mock) answers every turn and the server sends audio back. Every packet from the server is
 * measured on arrival (see rtp-receive.ts); nothing is recorded.
 */
import type { Logger } from '../../src/observability/logger.js';
import type { Codec } from '../../src/media/codecs/codec.js';
import { PortPool } from '../../src/media/rtp/port-pool.js';
import { LatencyHistogram, Ticker } from '../../src/media/ticker.js';
import { EmbeddedSignaling } from '../../src/sip/embedded/index.js';
import type { Dialog } from '../../src/sip/signaling.js';
import { PromptPlayer } from '../../src/call/prompt.js';
import { Softphone, type CallResult } from '../../src/softphone/softphone.js';
import { RtpReceiveStats } from './rtp-receive.js';

export interface LoadClientOptions {
  readonly logger: Logger;
  /**
   * Source addresses: one SIP UA (and its calls' RTP) per address, call i from address i mod K. Several
   * look like several trunks to a proxy's per-source flood limits (Kamailio's pike, see run-once.ts).
   */
  readonly hosts: readonly string[];
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
  /** WAV played in a loop by every call. */
  readonly promptPath: string;
  /** Silence after each repetition of the prompt, so the agent's reply plays without barge-in. */
  readonly pauseMs: number;
}

/** One call's outcome. */
interface CallSlot {
  readonly index: number;
  dialog: Dialog | undefined;
  stats: RtpReceiveStats | undefined;
  result: CallResult | undefined;
  error: string | undefined;
  /** The server ended the call before the load client hung up. */
  endedByRemote: boolean;
  done: Promise<void>;
}

export interface LoadClientTotals {
  readonly attempted: number;
  readonly established: number;
  readonly failed: number;
  /** First few distinct failure messages. */
  readonly failures: readonly string[];
  /** Server → client. */
  readonly serverPacketsSent: number;
  readonly serverPacketsReceived: number;
  readonly serverPacketsLost: number;
  readonly shortGapFrames: number;
  readonly duplicatesOrReordered: number;
  /** Client → server (what the client's legs sent). */
  readonly clientPacketsSent: number;
  readonly lateness: LatencyHistogram;
  readonly endedByRemote: number;
}

/** An endless iterator over shared frames: the prompt, then `pauseFrames` of silence, again and again. */
function loop(frames: readonly Buffer[], silence: Buffer, pauseFrames: number): Iterator<Buffer> {
  let i = 0;
  const period = frames.length + pauseFrames;
  return {
    next: () => {
      const k = i++ % period;
      return { done: false, value: k < frames.length ? frames[k]! : silence };
    },
  };
}

export class LoadClient {
  readonly ticker = new Ticker();
  readonly #signalings: EmbeddedSignaling[];
  readonly #phones: Softphone[];
  readonly #prompts = new PromptPlayer();
  readonly #options: LoadClientOptions;
  readonly #slots: CallSlot[] = [];
  /** Encoded prompt per codec, shared by every call. */
  readonly #frames = new Map<string, { frames: Buffer[]; silence: Buffer }>();

  constructor(options: LoadClientOptions) {
    this.#options = options;
    if (options.hosts.length === 0) throw new Error('load client: no source address');
    // One pool for every address: ports stay unique across them, which keeps the range's bound simple.
    const pool = new PortPool({
      minPort: options.rtpPortMin,
      maxPort: options.rtpPortMax,
      logger: options.logger,
    });
    this.#signalings = options.hosts.map(
      (host) =>
        new EmbeddedSignaling({
          host,
          port: 0,
          transports: ['udp'],
          publicHost: host,
          logger: options.logger,
        }),
    );
    this.#phones = options.hosts.map(
      (host, i) =>
        new Softphone({
          logger: options.logger,
          host,
          signaling: this.#signalings[i]!,
          ticker: this.ticker,
          pool,
        }),
    );
  }

  async start(): Promise<void> {
    await Promise.all(this.#signalings.map((s) => s.start()));
  }

  async close(): Promise<void> {
    await Promise.all(this.#signalings.map((s) => s.close()));
  }

  #playFrames = (codec: Codec, ptimeMs: number): Iterator<Buffer> => {
    const key = `${codec.name}/${codec.payloadType}/${ptimeMs}`;
    let entry = this.#frames.get(key);
    if (entry === undefined) {
      const frames = this.#prompts.frames(this.#options.promptPath, codec, ptimeMs);
      const silenceBuf = Buffer.alloc(1500);
      const silence = silenceBuf.subarray(
        0,
        codec.encode(new Int16Array(codec.frameSamples(ptimeMs)), silenceBuf),
      );
      entry = { frames, silence };
      this.#frames.set(key, entry);
    }
    return loop(entry.frames, entry.silence, Math.round(this.#options.pauseMs / ptimeMs));
  };

  /** Places one call now; it lasts until `hangupAll()` (or the server ends it). */
  place(uri: string): void {
    const slot: CallSlot = {
      index: this.#slots.length,
      dialog: undefined,
      stats: undefined,
      result: undefined,
      error: undefined,
      endedByRemote: false,
      done: Promise.resolve(),
    };
    const phone = this.#phones[slot.index % this.#phones.length]!;
    slot.done = phone
      .call(uri, {
        codecs: ['PCMU'],
        record: false,
        playFrames: this.#playFrames,
        onRtp: (packet, arrivalMs) =>
          slot.stats?.onPacket(packet.payloadType, packet.sequence, packet.timestamp, arrivalMs),
        onEstablished: (leg, dialog) => {
          slot.dialog = dialog;
          const frameSamples = leg.codec.frameSamples(leg.ptimeMs);
          slot.stats = new RtpReceiveStats(leg.codec.payloadType, leg.codec.sampleRateHz, frameSamples);
        },
      })
      .then(
        (result) => {
          slot.result = result;
        },
        (err: unknown) => {
          slot.error = err instanceof Error ? err.message : String(err);
        },
      );
    this.#slots.push(slot);
  }

  get established(): number {
    return this.#slots.filter((s) => s.dialog !== undefined).length;
  }

  get settled(): number {
    return this.#slots.filter((s) => s.dialog !== undefined || s.error !== undefined).length;
  }

  /** Starts or stops the lateness window on every established call. */
  setMeasuring(on: boolean): void {
    for (const s of this.#slots) if (s.stats !== undefined) s.stats.measuring = on;
  }

  /** BYE on every established call; resolves when every call has ended or `timeoutMs` passed. */
  async hangupAll(timeoutMs: number): Promise<boolean> {
    for (const s of this.#slots) {
      if (s.dialog?.ended === true) s.endedByRemote = true;
      else if (s.dialog !== undefined) {
        s.dialog.hangup().catch((err: unknown) => {
          s.error ??= `hangup: ${err instanceof Error ? err.message : String(err)}`;
        });
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const all = Promise.all(this.#slots.map((s) => s.done)).then(() => true as const);
    const ok = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return ok;
  }

  totals(): LoadClientTotals {
    const lateness = new LatencyHistogram();
    const failures = new Set<string>();
    let sent = 0;
    let received = 0;
    let lost = 0;
    let gaps = 0;
    let dups = 0;
    let clientSent = 0;
    let established = 0;
    let failed = 0;
    let endedByRemote = 0;
    for (const s of this.#slots) {
      if (s.dialog !== undefined) established++;
      if (s.dialog === undefined || s.error !== undefined) {
        failed += s.dialog === undefined ? 1 : 0;
        if (s.error !== undefined && failures.size < 5) failures.add(s.error);
      }
      if (s.result !== undefined) clientSent += s.result.packetsSent;
      if (s.endedByRemote) endedByRemote++;
      const st = s.stats;
      if (st === undefined) continue;
      sent += st.sent;
      received += st.received;
      lost += st.lost;
      gaps += st.shortGapFrames;
      dups += st.duplicatesOrReordered;
      st.recordLateness(lateness);
    }
    return {
      attempted: this.#slots.length,
      established,
      failed,
      failures: [...failures],
      serverPacketsSent: sent,
      serverPacketsReceived: received,
      serverPacketsLost: lost,
      shortGapFrames: gaps,
      duplicatesOrReordered: dups,
      clientPacketsSent: clientSent,
      lateness,
      endedByRemote,
    };
  }
}
