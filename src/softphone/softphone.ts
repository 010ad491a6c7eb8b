import { once } from 'node:events';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../observability/logger.js';
import type { MediaLeg } from '../call/media-leg.js';
import { PromptPlayer } from '../call/prompt.js';
import { RtpLeg } from '../call/rtp-leg.js';
import { PortPool } from '../media/rtp/port-pool.js';
import type { RtpPacket } from '../media/rtp/packet.js';
import { RtpSocket } from '../media/rtp/socket.js';
import { Ticker } from '../media/ticker.js';
import type { Codec } from '../media/codecs/codec.js';
import { createCodec } from '../media/codecs/index.js';
import { createOffer, parseAnswer, type CodecName } from '../sip/sdp.js';
import { EmbeddedSignaling } from '../sip/embedded/index.js';
import type { Dialog, Signaling } from '../sip/signaling.js';

/** Frames of `CallOptions.playFrames` queued ahead of the clock (200 ms at 20 ms). */
const FEED_AHEAD_FRAMES = 10;

export interface SoftphoneOptions {
  readonly logger: Logger;
  /** Local address for SIP and RTP (loopback in tests). */
  readonly host?: string;
  readonly rtpPortMin?: number;
  readonly rtpPortMax?: number;
  /** Share one signaling stack / ticker between many calls (load test). */
  readonly signaling?: Signaling;
  readonly ticker?: Ticker;
  readonly pool?: PortPool;
}

export interface CallOptions {
  /** WAV file to send as the caller's audio (any rate; resampled). */
  readonly playPath?: string;
  /** Or PCM at 8 kHz mono. */
  readonly playPcm8k?: Int16Array;
  /** Wait this long after answer before the audio starts. */
  readonly playDelayMs?: number;
  readonly dtmf?: string;
  readonly dtmfDelayMs?: number;
  /** Hang up after this long; without it the call lasts until the far end hangs up. */
  readonly durationMs?: number;
  readonly codecs?: readonly CodecName[];
  /** a=ptime of our offer: the packet duration we ask the far end to send (default 20). */
  readonly ptimeMs?: number;
  /** Give up (408) when the far end sends no final response in time (default 60 s). */
  readonly answerTimeoutMs?: number;
  /** Each provisional response (100 Trying, 180 Ringing, 183) as it arrives. */
  readonly onProvisional?: (status: number, reason: string) => void;
  /** Called with the leg once the call is established (tests inspect RTP). */
  readonly onEstablished?: (leg: MediaLeg, dialog: Dialog) => void;
  /**
   * Or caller audio as already-encoded frames of one ptime for the negotiated codec, pulled lazily a little
   * ahead of the clock (an endless iterator is fine: the load test loops one prompt for the whole call).
   * Frames are only read, so one set of buffers can be shared by every call.
   */
  readonly playFrames?: (codec: Codec, ptimeMs: number) => Iterator<Buffer>;
  /**
   * Keep what the far end sent in `CallResult.received` (default true). Off, the softphone allocates
   * nothing per frame: the load test runs thousands of calls and only needs `onRtp`.
   */
  readonly record?: boolean;
  /**
   * Every RTP packet from the far end as it arrives, before the jitter buffer, with its arrival time on the
   * `performance.now()` clock. `packet` is reused for the next datagram: copy what you keep.
   */
  readonly onRtp?: (packet: RtpPacket, arrivalMs: number) => void;
}

/** How the far end's RTP reached us, and what was refused (DESIGN.md §3: symmetric RTP with latching). */
export interface MediaReport {
  /** The c= address of the far end's SDP. */
  readonly sdpAddress: string;
  readonly sdpPort: number;
  /** Where its RTP actually came from once latched (any port of the SDP address is normal: NAT, SBCs). */
  readonly latchedTo?: { readonly address: string; readonly port: number };
  /** Packets dropped because they came from a source other than the latched/latchable one. */
  readonly foreignDropped: number;
  /** Packets of a source still on probation (RFC 3550 §A.1) or waiting behind the preferred address. */
  readonly probationRejected: number;
  /** The likely cause when packets were refused or came from elsewhere; undefined when all was normal. */
  readonly hint?: string;
}

export interface CallResult {
  readonly sampleRateHz: number;
  /** What the far end sent us, decoded, one frame per tick (time-aligned; silence where nothing came). */
  readonly received: Int16Array;
  readonly endedBy: 'local' | 'remote';
  readonly codec: string;
  readonly packetsReceived: number;
  readonly packetsSent: number;
  readonly media: MediaReport;
}

/** Explains refused or relocated RTP in one sentence (the softphone's summary; `switchboard call` prints it). */
export function mediaHint(r: Omit<MediaReport, 'hint'>, packetsReceived: number): string | undefined {
  const refused = r.foreignDropped + r.probationRejected;
  if (packetsReceived === 0 && refused > 0) {
    return (
      `${refused} RTP packets arrived but none from the SDP address ${r.sdpAddress}: the far end sends ` +
      'RTP from an address it does not advertise (on a Switchboard server: SIP_PUBLIC_HOST/SIP_MEDIA_HOST ' +
      'should be an address RTP leaves from)'
    );
  }
  if (r.latchedTo !== undefined && r.latchedTo.address !== r.sdpAddress) {
    return `RTP comes from ${r.latchedTo.address}, not the SDP address ${r.sdpAddress} (NAT or a separate media server)`;
  }
  if (r.foreignDropped > 0) {
    return `${r.foreignDropped} packets from other sources dropped (stray traffic, or the far end moved its media)`;
  }
  return undefined;
}

/** The host of a SIP URI when it is an IP literal (the signaling address our RTP latching prefers). */
function uriAddress(uri: string): string | undefined {
  const host = /^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;>]+)/i.exec(uri)?.[1]?.replace(/^\[|\]$/g, '');
  return host !== undefined && isIP(host) !== 0 ? host : undefined;
}

/**
 * A small SIP UAC over the same parts as the server (embedded SIP stack, RtpLeg, shared ticker): places a
 * call, streams a WAV, records what it hears, sends DTMF. `switchboard call` and the end-to-end tests use it.
 */
export class Softphone {
  readonly #signaling: Signaling;
  readonly #ownsSignaling: boolean;
  readonly #ticker: Ticker;
  readonly #pool: PortPool;
  readonly #logger: Logger;
  readonly #prompts = new PromptPlayer();
  readonly #host: string;

  constructor(options: SoftphoneOptions) {
    this.#host = options.host ?? '127.0.0.1';
    this.#ownsSignaling = options.signaling === undefined;
    this.#signaling =
      options.signaling ??
      new EmbeddedSignaling({
        host: this.#host,
        port: 0,
        transports: ['udp'],
        publicHost: this.#host,
        logger: options.logger,
      });
    this.#ticker = options.ticker ?? new Ticker();
    this.#logger = options.logger;
    this.#pool =
      options.pool ??
      new PortPool({
        minPort: options.rtpPortMin ?? 40000,
        maxPort: options.rtpPortMax ?? 40999,
        logger: options.logger,
      });
  }

  get signaling(): Signaling {
    return this.#signaling;
  }

  async start(): Promise<void> {
    if (this.#ownsSignaling) await this.#signaling.start();
  }

  async close(): Promise<void> {
    if (this.#ownsSignaling) await this.#signaling.close();
  }

  async call(uri: string, options: CallOptions = {}): Promise<CallResult> {
    // The socket is opened here rather than through RtpLegFactory so `onRtp` can listen to it directly.
    const signalingAddress = uriAddress(uri);
    const socket = await RtpSocket.open({
      pool: this.#pool,
      host: this.#host,
      logger: this.#logger,
      ...(signalingAddress === undefined ? {} : { signalingAddress }),
      // We dialled this host: its packets are the agent's first words, not a stranger to prove first.
      matchedProbationPackets: 1,
    });
    let latchedTo: { address: string; port: number } | undefined;
    socket.on('latched', (address, port) => (latchedTo = { address, port }));
    const offer = createOffer(
      { address: this.#host, port: socket.port },
      {
        codecs: options.codecs ?? ['PCMU', 'PCMA'],
        ...(options.ptimeMs === undefined ? {} : { ptimeMs: options.ptimeMs }),
      },
    );
    let dialog: Dialog;
    try {
      dialog = await this.#signaling.dial(uri, {
        sdpOffer: offer,
        ...(options.answerTimeoutMs === undefined ? {} : { timeoutMs: options.answerTimeoutMs }),
        ...(options.onProvisional === undefined ? {} : { onProvisional: options.onProvisional }),
      });
    } catch (err) {
      socket.close();
      throw err;
    }
    const answer = parseAnswer(offer, dialog.remoteSdp);
    if (!answer.ok) {
      socket.close();
      await dialog.hangup();
      throw new Error(`unusable SDP answer: ${answer.detail}`);
    }
    const onRtp = options.onRtp;
    if (onRtp !== undefined) socket.on('packet', (packet) => onRtp(packet, performance.now()));
    const leg = new RtpLeg({ socket, media: answer, ticker: this.#ticker, logger: this.#logger });
    const decoder = createCodec(answer.codec.name, answer.codec.payloadType);
    const frameSamples = decoder.frameSamples(leg.ptimeMs);
    const chunks: Int16Array[] = [];
    const scratch = new Int16Array(frameSamples * 6);
    let started = false;
    // Record one frame per tick from answer on: silence until the first packet, so time stays aligned.
    const onTick = (caller: Buffer | undefined): void => {
      if (caller !== undefined) started = true;
      const frame = new Int16Array(frameSamples);
      if (caller !== undefined)
        frame.set(scratch.subarray(0, Math.min(decoder.decode(caller, scratch), frameSamples)));
      if (started || caller !== undefined) chunks.push(frame);
      else chunks.push(frame);
    };
    const record = options.record ?? true;
    if (record) leg.on('tick', onTick);
    const feed = options.playFrames === undefined ? undefined : this.#feeder(leg, options.playFrames);
    if (feed !== undefined) leg.on('tick', feed);
    options.onEstablished?.(leg, dialog);

    const timers: NodeJS.Timeout[] = [];
    let playError: unknown;
    let endedBy: 'local' | 'remote' = 'remote';
    // Wait for our BYE's final response too, so closing the phone right after cannot lose it.
    let hangingUp: Promise<void> = Promise.resolve();
    if (options.playPath !== undefined || options.playPcm8k !== undefined) {
      timers.push(
        setTimeout(() => {
          let frames: Buffer[];
          try {
            frames =
              options.playPath !== undefined
                ? this.#prompts.frames(options.playPath, leg.codec, leg.ptimeMs)
                : this.#framesFromPcm(options.playPcm8k ?? new Int16Array(0), leg);
          } catch (err) {
            // An unreadable file must not leave the call up: hang up, then report why (after 'ended').
            playError = err;
            endedBy = 'local';
            hangingUp = dialog.hangup().catch(() => undefined);
            return;
          }
          for (const f of frames) leg.playout.enqueue(f, 'caller', 'caller');
        }, options.playDelayMs ?? 0),
      );
    }
    if (options.dtmf !== undefined) {
      const digits = options.dtmf;
      timers.push(setTimeout(() => void leg.sendDtmf(digits), options.dtmfDelayMs ?? 500));
    }
    const ended = once(dialog, 'ended');
    if (options.durationMs !== undefined) {
      timers.push(
        setTimeout(() => {
          endedBy = 'local';
          hangingUp = dialog.hangup().catch(() => undefined);
        }, options.durationMs),
      );
    }
    await ended;
    await hangingUp;
    for (const t of timers) clearTimeout(t);
    leg.off('tick', onTick);
    if (feed !== undefined) leg.off('tick', feed);
    if (playError !== undefined) {
      leg.close();
      decoder.close?.();
      throw playError instanceof Error ? playError : new Error('cannot play the file');
    }
    const stats = leg.stats();
    const counters = socket.counters;
    const report = {
      sdpAddress: answer.remote.address,
      sdpPort: answer.remote.port,
      ...(latchedTo === undefined ? {} : { latchedTo }),
      foreignDropped: counters.foreignDropped,
      probationRejected: counters.probationRejected,
    };
    const hint = mediaHint(report, stats.packetsReceived);
    leg.close();
    decoder.close?.();
    const received = new Int16Array(chunks.length * frameSamples);
    chunks.forEach((c, i) => received.set(c, i * frameSamples));
    return {
      sampleRateHz: decoder.sampleRateHz,
      received,
      endedBy,
      codec: answer.codec.name,
      packetsReceived: stats.packetsReceived,
      packetsSent: stats.packetsSent,
      media: { ...report, ...(hint === undefined ? {} : { hint }) },
    };
  }

  /**
   * A tick listener that keeps up to {@link FEED_AHEAD_FRAMES} frames of `source` queued: the caller's audio
   * stays a short, bounded queue however long the call (and however many calls share the process).
   */
  #feeder(leg: RtpLeg, source: (codec: Codec, ptimeMs: number) => Iterator<Buffer>): () => void {
    const frames = source(leg.codec, leg.ptimeMs);
    const aheadMs = FEED_AHEAD_FRAMES * leg.ptimeMs;
    let done = false;
    const top = (): void => {
      while (!done && leg.playout.queuedMs < aheadMs) {
        const next = frames.next();
        if (next.done === true) done = true;
        else leg.playout.enqueue(next.value, 'caller', 'caller');
      }
    };
    top();
    return top;
  }

  #framesFromPcm(pcm: Int16Array, leg: MediaLeg): Buffer[] {
    const n = leg.codec.frameSamples(leg.ptimeMs);
    const out: Buffer[] = [];
    const frame = new Int16Array(n);
    for (let o = 0; o < pcm.length; o += n) {
      frame.fill(0);
      frame.set(pcm.subarray(o, Math.min(o + n, pcm.length)));
      const buf = Buffer.allocUnsafe(n);
      out.push(buf.subarray(0, leg.codec.encode(frame, buf)));
    }
    return out;
  }
}
