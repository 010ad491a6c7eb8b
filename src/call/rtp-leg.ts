import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from '../observability/logger.js';
import type { Codec } from '../media/codecs/codec.js';
import { createCodec } from '../media/codecs/index.js';
import { FrameClock } from '../media/frame-clock.js';
import { MAX_QUEUED_AUDIO_MS, PlayoutStream, type RtpSink } from '../media/playout.js';
import { JitterBuffer } from '../media/rtp/jitter-buffer.js';
import { RTP_HEADER_BYTES, writeRtpHeader, type RtpPacket } from '../media/rtp/packet.js';
import type { PortPool } from '../media/rtp/port-pool.js';
import { RtpSocket } from '../media/rtp/socket.js';
import { TelephoneEventReceiver, scheduleTelephoneEvents } from '../media/rtp/dtmf.js';
import type { Ticker, TickSubscriber } from '../media/ticker.js';
import type { NegotiatedMedia } from '../sip/sdp.js';
import type { MediaLegFactory, PendingMediaLeg } from './call-manager.js';
import type { CallPlayout, MediaLeg, MediaLegEvents, MediaLegStats } from './media-leg.js';

const MAX_PACKET_BYTES = RTP_HEADER_BYTES + 1500;
const OUT_RING = 16;

/** Counts agent audio frames refused because the call had the maximum queued (issue 11). */
export interface OverflowCounter {
  inc(frames: number): void;
}

export interface RtpLegOptions {
  readonly socket: RtpSocket;
  readonly media: NegotiatedMedia;
  readonly ticker: Ticker;
  readonly logger: Logger;
  /** Most agent audio queued ahead of the clock (default {@link MAX_QUEUED_AUDIO_MS}). */
  readonly maxQueuedMs?: number;
  readonly playoutOverflow?: OverflowCounter;
}

/**
 * One call's RTP leg built from the media engine's parts: the socket (port pool, latching, inactivity), a
 * jitter buffer played out one frame per ptime, RFC 4733 in and out, and a PlayoutStream on the shared ticker.
 * One tick subscriber per leg does both directions, so the caller and agent channels share one clock.
 *
 * Packetization: the leg works in frames ("slots") of the negotiated ptime, whatever the ticker's period.
 * A {@link FrameClock} says which slots each 20 ms tick plays (10 ms: two; 30 ms: 1, 1, 0 …); each slot pops
 * one caller frame of that ptime from the jitter buffer, sends one agent packet (timestamp base + slot ×
 * frameSamples, exactly) and emits one 'frame' and one 'tick', so recordings stay aligned in media time and
 * barge-in's `sentMs` counts whole packets sent.
 *
 * Failures: anything thrown while ticking takes the leg off the clock and emits 'failed' once; the call
 * layer ends the call (BYE, port released) rather than leave dead air (issue 10).
 */
export class RtpLeg extends EventEmitter<MediaLegEvents> implements MediaLeg, TickSubscriber, RtpSink {
  readonly codec: Codec;
  readonly ptimeMs: number;
  readonly playout: CallPlayout & PlayoutStream;
  readonly #socket: RtpSocket;
  readonly #ticker: Ticker;
  readonly #log: Logger;
  readonly #jitter: JitterBuffer;
  readonly #dtmfIn: TelephoneEventReceiver | undefined;
  readonly #telephoneEventPt: number | undefined;
  readonly #telephoneEvent: { readonly payloadType: number; readonly clockRateHz: number } | undefined;
  readonly #ssrc = randomInt(0, 0x1_0000_0000);
  readonly #initialTimestamp = randomInt(0, 0x1_0000_0000);
  /**
   * Outgoing packets are written into a small ring of preallocated buffers: dgram reads the buffer only on
   * the next turn of the event loop, and a late ticker runs up to six ticks back to back (twelve packets at
   * a 10 ms ptime), so one buffer per packet in flight, never an allocation per packet.
   */
  readonly #out = Array.from({ length: OUT_RING }, () => Buffer.alloc(MAX_PACKET_BYTES));
  #outIndex = 0;
  readonly #silence: Buffer;
  readonly #lastCaller: Buffer;
  #lastCallerBytes = 0;
  #lostRun = 0;
  readonly #clock: FrameClock;
  readonly #frameSamples: number;
  /** The slot being played (-1 before the first tick). */
  #slot = -1;
  #failed = false;
  /**
   * The leg numbers every packet it writes (audio and RFC 4733 events share one sequence space, §2.1), so
   * the playout stream's own numbering is not used.
   */
  #sequence = randomInt(0, 0x1_0000);
  #sentThisTick: Buffer | undefined;
  #hold = false;
  /** The remote media address of the current SDP (the latched source may differ: NAT). */
  #sdpRemote: { readonly address: string; readonly port: number };
  #closed = false;
  #dtmfQueue: Array<{
    slot: number;
    payload?: Buffer;
    marker: boolean;
    timestamp: number;
    done?: () => void;
  }> = [];
  #otherPtDropped = 0;
  readonly #overflowCounter: OverflowCounter | undefined;

  constructor(options: RtpLegOptions) {
    super();
    const { media } = options;
    this.codec = createCodec(media.codec.name, media.codec.payloadType);
    this.ptimeMs = media.codec.ptimeMs;
    this.#socket = options.socket;
    this.#ticker = options.ticker;
    this.#log = options.logger;
    const frameSamples = this.codec.frameSamples(this.ptimeMs);
    this.#frameSamples = frameSamples;
    this.#clock = new FrameClock(this.ptimeMs, options.ticker.periodMs);
    this.#silence = this.#encodedSilence(frameSamples);
    this.#lastCaller = Buffer.alloc(1500);
    // At least two frames deep: with one, the margin is only the arbitrary phase between the sender's clock
    // and our ticker (0–20 ms), and any short stall of this process turns caller packets late (load test).
    this.#jitter = new JitterBuffer({
      frameSamples,
      frameDurationMs: this.ptimeMs,
      minDepthMs: Math.max(40, 2 * this.ptimeMs),
      // G.711 and G.722 carry one byte per RTP timestamp unit: the buffer cuts a peer's 10/30/60 ms packets
      // into this leg's frames (a peer may ignore our a=ptime). Opus packets cannot be cut: one per frame.
      ...(this.codec.name === 'opus' ? {} : { bytesPerTimestampUnit: 1, fillByte: this.#silence[0] ?? 0 }),
    });
    this.playout = new PlayoutStream({
      sink: this,
      frameSamples,
      ptimeMs: this.ptimeMs,
      tickPeriodMs: options.ticker.periodMs,
      initialTimestamp: this.#initialTimestamp,
      maxQueuedMs: options.maxQueuedMs ?? MAX_QUEUED_AUDIO_MS,
    });
    this.#overflowCounter = options.playoutOverflow;
    // Logged once per call; every refused frame is counted (stats, metric at close).
    this.playout.once('overflow', ({ maxQueuedMs }) =>
      this.#log.warn({ maxQueuedMs }, 'agent audio ahead of playout reached the cap; excess dropped'),
    );
    this.#telephoneEventPt = media.telephoneEvent?.payloadType;
    this.#telephoneEvent = media.telephoneEvent;
    if (media.telephoneEvent !== undefined) {
      this.#dtmfIn = new TelephoneEventReceiver({
        clockRateHz: media.telephoneEvent.clockRateHz,
        onDigit: (e) => this.emit('dtmf', { digit: e.digit, durationMs: e.durationMs }),
      });
    }
    this.#socket.setRemote(media.remote.address, media.remote.port);
    this.#sdpRemote = media.remote;
    this.#hold = media.hold;
    this.#socket.on('packet', (packet) => this.#onPacket(packet));
    this.#socket.on('latched', (address, port) => this.emit('latched', { address, port }));
    this.#socket.on('timeout', () => this.emit('inactive'));
    this.#ticker.add(this);
  }

  get localPort(): number {
    return this.#socket.port;
  }

  get latched(): boolean {
    return this.#socket.latched;
  }

  #encodedSilence(frameSamples: number): Buffer {
    if (this.codec.name === 'PCMU') return Buffer.alloc(frameSamples, 0xff);
    if (this.codec.name === 'PCMA') return Buffer.alloc(frameSamples, 0xd5);
    const out = Buffer.alloc(1500);
    const n = this.codec.encode(new Int16Array(frameSamples), out);
    return out.subarray(0, n);
  }

  #onPacket(packet: RtpPacket): void {
    if (packet.payloadType === this.codec.payloadType) {
      this.#jitter.push(packet);
    } else if (packet.payloadType === this.#telephoneEventPt) {
      // RFC 4733 events share the audio's sequence space: tell the jitter buffer they are not lost audio.
      this.#jitter.noteDiverted(packet.sequence, packet.ssrc);
      this.#dtmfIn?.receive(
        packet.buffer,
        packet.payloadOffset,
        packet.payloadLength,
        packet.timestamp,
        packet.marker,
      );
    } else {
      // Comfort noise (PT 13) and anything not negotiated (RFC 3264 §5.1: only negotiated formats).
      this.#otherPtDropped++;
    }
  }

  /** Whether the leg stopped on an error (see 'failed'). */
  get failed(): boolean {
    return this.#failed;
  }

  /** The shared ticker: for each slot due on this tick, one caller frame out, one agent frame onto the wire. */
  tick(tickIndex: number, _lateMs: number): void {
    if (this.#closed || this.#failed) return;
    try {
      const clock = this.#clock;
      if (clock.advance(tickIndex) === 0) return;
      for (let slot = clock.start; slot < clock.end; slot++) this.#playSlot(slot);
    } catch (err) {
      this.#fail(err);
    }
  }

  #playSlot(slot: number): void {
    this.#slot = slot;
    const caller = this.#playCaller();
    this.#sentThisTick = undefined;
    // On hold the queue is paused, not drained: the agent's reply resumes where it stopped after unhold
    // (the stream counts the skipped periods into its RTP timestamps and marks the next packet).
    if (!this.#hold) this.playout.playSlot(slot);
    this.#sendDtmfIfDue();
    this.emit('tick', caller, this.#sentThisTick);
  }

  /**
   * A bug or a listener error on the media path: stop this leg's clock (other calls keep theirs) and let the
   * call end it. Never rethrown: the ticker would only remove us silently.
   */
  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#ticker.remove(this);
    this.#log.error({ err }, 'media leg failed; ending the call');
    this.emit('failed', err instanceof Error ? err : new Error(String(err)));
  }

  /** Inbound: the next frame in time order; a lost frame repeats the last one once, then silence. */
  #playCaller(): Buffer | undefined {
    const f = this.#jitter.pop();
    let out: Buffer | undefined;
    if (f.kind === 'frame') {
      f.payload.copy(this.#lastCaller, 0, 0, f.payloadLength);
      this.#lastCallerBytes = f.payloadLength;
      this.#lostRun = 0;
      out = f.payload.subarray(0, f.payloadLength);
    } else if (f.kind === 'lost' || f.kind === 'empty') {
      // Concealment keeps time: every tick yields exactly one frame (never shifts the caller's audio).
      this.#lostRun++;
      out =
        this.#lostRun === 1 && this.#lastCallerBytes > 0 && f.kind === 'lost'
          ? this.#lastCaller.subarray(0, this.#lastCallerBytes)
          : this.#silence;
    }
    if (out !== undefined) this.emit('frame', out);
    return out;
  }

  /** RtpSink for the playout stream: header + payload into the one outgoing buffer. */
  send(payload: Buffer, _sequence: number, timestamp: number, marker: boolean): void {
    if (this.#hold || this.#closed) return;
    // A digit in progress replaces audio (RFC 4733 §2.5: events and audio share the stream's timeline).
    const digit = this.#dtmfQueue[0];
    if (digit?.payload !== undefined && digit.slot <= this.#slot) return;
    this.#write(payload, this.codec.payloadType, timestamp, marker);
    this.#sentThisTick = payload;
  }

  #write(payload: Buffer, payloadType: number, timestamp: number, marker: boolean): void {
    const sequence = this.#sequence;
    this.#sequence = (sequence + 1) & 0xffff;
    const out = this.#out[this.#outIndex]!;
    this.#outIndex = (this.#outIndex + 1) % OUT_RING;
    writeRtpHeader(out, 0, {
      payloadType,
      marker,
      sequence,
      timestamp: timestamp >>> 0,
      ssrc: this.#ssrc,
    });
    payload.copy(out, RTP_HEADER_BYTES);
    this.#socket.send(out, RTP_HEADER_BYTES + payload.length);
  }

  /** RTP timestamp of media slot `slot` (RFC 3550 §5.1: the media clock, continuous across silence). */
  #timestampOf(slot: number): number {
    return (this.#initialTimestamp + slot * this.#frameSamples) >>> 0;
  }

  #sendDtmfIfDue(): void {
    const next = this.#dtmfQueue[0];
    if (next === undefined || next.slot > this.#slot) return;
    this.#dtmfQueue.shift();
    if (next.payload !== undefined && !this.#hold) {
      this.#write(next.payload, this.#telephoneEventPt ?? 101, next.timestamp, next.marker);
    }
    next.done?.();
  }

  /**
   * RFC 4733 out: one event packet per audio packet slot (RFC 4733 §2.5.1.2: events go at the audio's
   * packetization; audio is paused meanwhile), all packets of a digit stamped with the media time of its first
   * slot (§2.5.1.1), durations in the event's negotiated clock, the end packet sent three times (§2.5.1.4),
   * and a pause between digits.
   */
  sendDtmf(digits: string): Promise<void> {
    const te = this.#telephoneEvent;
    if (te === undefined || this.#closed || this.#failed || digits === '') return Promise.resolve();
    const ptimeMs = this.ptimeMs;
    const lastQueued = this.#dtmfQueue.at(-1)?.slot ?? this.#slot;
    const slot = Math.max(lastQueued, this.#slot) + 1;
    return new Promise<void>((resolve) => {
      // One slot per ptime: the plan's ticks are slots, its timestamps offsets from this slot's.
      const plan = scheduleTelephoneEvents(digits, {
        clockRateHz: te.clockRateHz,
        ptimeMs,
        tickPeriodMs: ptimeMs,
        durationMs: 160,
        pauseMs: 100,
      });
      const base = this.#timestampOf(slot);
      for (const p of plan.packets) {
        const timestamp = (base + p.timestampOffset) >>> 0;
        this.#dtmfQueue.push({ slot: slot + p.tick, payload: p.payload, marker: p.marker, timestamp });
      }
      // A marker entry with no payload resolves the promise after the last pause.
      this.#dtmfQueue.push({ slot: slot + plan.endTick, timestamp: 0, marker: false, done: resolve });
    });
  }

  updateRemote(remote: { readonly address: string; readonly port: number }, hold: boolean): void {
    const moved = remote.address !== this.#sdpRemote.address || remote.port !== this.#sdpRemote.port;
    // RtpSocket unlatches only on a new address; media moved to another port of the same host (RFC 3264
    // §8.3.1) must re-latch too, so clear the latch with an unknown address first.
    if (moved) this.#socket.setRemote('', 0);
    this.#socket.setRemote(remote.address, remote.port);
    this.#sdpRemote = remote;
    this.#hold = hold;
  }

  stats(): MediaLegStats {
    const j = this.#jitter.stats();
    const c = this.#socket.counters;
    return {
      packetsReceived: c.packetsReceived,
      packetsSent: c.packetsSent,
      lost: j.lost,
      late: j.late,
      malformed: c.malformed,
      foreignDropped: c.foreignDropped,
      playoutOverflowFrames: this.playout.stats().overflowFrames,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ticker.remove(this);
    this.#socket.close();
    this.codec.close?.();
    for (const d of this.#dtmfQueue) d.done?.();
    this.#dtmfQueue = [];
    const overflow = this.playout.stats().overflowFrames;
    if (overflow > 0) this.#overflowCounter?.inc(overflow);
    const j = this.#jitter.stats();
    this.#log.debug(
      {
        otherPtDropped: this.#otherPtDropped,
        playoutOverflowFrames: overflow,
        jitter: { concealed: j.concealed, underruns: j.underruns, inserted: j.inserted, skipped: j.skipped },
      },
      'media leg closed',
    );
  }
}

/** Allocates RTP ports before the SDP answer and starts legs on the shared ticker. */
export class RtpLegFactory implements MediaLegFactory {
  readonly #pool: PortPool;
  readonly #host: string;
  readonly #ticker: Ticker;
  readonly #logger: Logger;
  readonly #inactivityTimeoutMs: number;
  readonly #playoutOverflow: OverflowCounter | undefined;

  constructor(options: {
    pool: PortPool;
    /** Local address RTP binds to: the advertised media address when it is ours (see media-address.ts). */
    host: string;
    ticker: Ticker;
    logger: Logger;
    inactivityTimeoutMs?: number;
    playoutOverflow?: OverflowCounter;
  }) {
    this.#pool = options.pool;
    this.#host = options.host;
    this.#ticker = options.ticker;
    this.#logger = options.logger;
    this.#inactivityTimeoutMs = options.inactivityTimeoutMs ?? 30_000;
    this.#playoutOverflow = options.playoutOverflow;
  }

  /**
   * `signalingAddress`: the source address of the call's INVITE (IncomingCall.source.address), the media
   * source RTP latching prefers (issue 11: an attacker elsewhere cannot take the call over).
   */
  async allocate(options: { readonly signalingAddress?: string } = {}): Promise<PendingMediaLeg> {
    const socket = await RtpSocket.open({
      pool: this.#pool,
      host: this.#host,
      inactivityTimeoutMs: this.#inactivityTimeoutMs,
      logger: this.#logger,
      ...(options.signalingAddress === undefined ? {} : { signalingAddress: options.signalingAddress }),
    });
    let started = false;
    return {
      localPort: socket.port,
      start: (media) => {
        // A leg that cannot start (a bug, an unusable negotiated format) must not keep its port: the 200 is
        // already out, so the caller hangs up and nothing may stay bound (issue 10).
        try {
          const leg = new RtpLeg({
            socket,
            media,
            ticker: this.#ticker,
            logger: this.#logger,
            ...(this.#playoutOverflow === undefined ? {} : { playoutOverflow: this.#playoutOverflow }),
          });
          started = true;
          return leg;
        } catch (err) {
          socket.close();
          throw err;
        }
      },
      release: () => {
        if (!started) socket.close();
      },
    };
  }
}
