import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from '../observability/logger.js';
import type { Codec } from '../media/codecs/codec.js';
import { createCodec } from '../media/codecs/index.js';
import { PlayoutStream, type RtpSink } from '../media/playout.js';
import { JitterBuffer } from '../media/rtp/jitter-buffer.js';
import { RTP_HEADER_BYTES, writeRtpHeader, type RtpPacket } from '../media/rtp/packet.js';
import type { PortPool } from '../media/rtp/port-pool.js';
import { RtpSocket } from '../media/rtp/socket.js';
import { TelephoneEventReceiver, telephoneEventPackets } from '../media/rtp/dtmf.js';
import type { Ticker, TickSubscriber } from '../media/ticker.js';
import type { NegotiatedMedia } from '../sip/sdp.js';
import type { MediaLegFactory, PendingMediaLeg } from './call-manager.js';
import type { CallPlayout, MediaLeg, MediaLegEvents, MediaLegStats } from './media-leg.js';

const MAX_PACKET_BYTES = RTP_HEADER_BYTES + 1500;
const OUT_RING = 16;

export interface RtpLegOptions {
  readonly socket: RtpSocket;
  readonly media: NegotiatedMedia;
  readonly ticker: Ticker;
  readonly logger: Logger;
}

/**
 * One call's RTP leg built from the media engine's parts: the socket (port pool, latching, inactivity), a
 * jitter buffer played out one frame per tick, RFC 4733 in and out, and a PlayoutStream on the shared ticker.
 * One tick subscriber per leg does both directions, so the caller and agent channels share one clock.
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
  readonly #ssrc = randomInt(0, 0x1_0000_0000);
  readonly #initialTimestamp = randomInt(0, 0x1_0000_0000);
  /** The one buffer every outgoing packet is written into (header + payload): no allocation per packet. */
  /**
   * Outgoing packets are written into a small ring of preallocated buffers: dgram reads the buffer only on
   * the next turn of the event loop, and a late ticker runs up to six ticks back to back, so one buffer per
   * packet in flight, never an allocation per packet.
   */
  readonly #out = Array.from({ length: OUT_RING }, () => Buffer.alloc(MAX_PACKET_BYTES));
  #outIndex = 0;
  readonly #silence: Buffer;
  readonly #lastCaller: Buffer;
  #lastCallerBytes = 0;
  #lostRun = 0;
  #firstTick = -1;
  #tickIndex = 0;
  /**
   * The leg numbers every packet it writes (audio and RFC 4733 events share one sequence space, §2.1), so
   * the playout stream's own numbering is not used.
   */
  #sequence = randomInt(0, 0x1_0000);
  #sentThisTick: Buffer | undefined;
  #hold = false;
  #closed = false;
  #dtmfQueue: Array<{
    tick: number;
    payload?: Buffer;
    marker: boolean;
    timestamp: number;
    done?: () => void;
  }> = [];
  #otherPtDropped = 0;

  constructor(options: RtpLegOptions) {
    super();
    const { media } = options;
    this.codec = createCodec(media.codec.name, media.codec.payloadType);
    this.ptimeMs = media.codec.ptimeMs;
    this.#socket = options.socket;
    this.#ticker = options.ticker;
    this.#log = options.logger;
    const frameSamples = this.codec.frameSamples(this.ptimeMs);
    this.#silence = this.#encodedSilence(frameSamples);
    this.#lastCaller = Buffer.alloc(1500);
    // At least two frames deep: with one, the margin is only the arbitrary phase between the sender's clock
    // and our ticker (0–20 ms), and any short stall of this process turns caller packets late (load test).
    this.#jitter = new JitterBuffer({
      frameSamples,
      frameDurationMs: this.ptimeMs,
      minDepthMs: Math.max(40, 2 * this.ptimeMs),
    });
    this.playout = new PlayoutStream({
      sink: this,
      frameSamples,
      ptimeMs: this.ptimeMs,
      tickPeriodMs: options.ticker.periodMs,
      initialTimestamp: this.#initialTimestamp,
    });
    this.#telephoneEventPt = media.telephoneEvent?.payloadType;
    if (media.telephoneEvent !== undefined) {
      this.#dtmfIn = new TelephoneEventReceiver({
        clockRateHz: media.telephoneEvent.clockRateHz,
        onDigit: (e) => this.emit('dtmf', { digit: e.digit, durationMs: e.durationMs }),
      });
    }
    this.#socket.setRemote(media.remote.address, media.remote.port);
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

  /** The shared ticker: one caller frame out of the jitter buffer, one agent frame onto the wire. */
  tick(tickIndex: number, lateMs: number): void {
    if (this.#closed) return;
    if (this.#firstTick < 0) this.#firstTick = tickIndex;
    this.#tickIndex = tickIndex;
    const caller = this.#playCaller();
    this.#sentThisTick = undefined;
    this.playout.tick(tickIndex, lateMs);
    this.#sendDtmfIfDue();
    this.emit('tick', caller, this.#sentThisTick);
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
    if (digit?.payload !== undefined && digit.tick <= this.#tickIndex) return;
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

  /** RTP timestamp of the current tick (RFC 3550 §5.1: media clock, continuous across silence). */
  #timestampNow(): number {
    return (
      (this.#initialTimestamp +
        (this.#tickIndex - this.#firstTick) * this.codec.frameSamples(this.ptimeMs)) >>>
      0
    );
  }

  #sendDtmfIfDue(): void {
    const next = this.#dtmfQueue[0];
    if (next === undefined || next.tick > this.#tickIndex) return;
    this.#dtmfQueue.shift();
    if (next.payload !== undefined && !this.#hold) {
      this.#write(next.payload, this.#telephoneEventPt ?? 101, next.timestamp, next.marker);
    }
    next.done?.();
  }

  /**
   * RFC 4733 out: one packet per tick (audio is paused meanwhile), all packets of a digit stamped with the
   * digit's start time, the end packet sent three times, and a pause between digits.
   */
  sendDtmf(digits: string): Promise<void> {
    if (this.#telephoneEventPt === undefined || this.#closed || digits === '') return Promise.resolve();
    const frameSamples = this.codec.frameSamples(this.ptimeMs);
    const periodMs = this.#ticker.periodMs;
    const lastQueued = this.#dtmfQueue.at(-1)?.tick ?? this.#tickIndex;
    let tick = Math.max(lastQueued, this.#tickIndex) + 1;
    return new Promise<void>((resolve) => {
      for (const digit of digits) {
        const timestamp = (this.#timestampNow() + (tick - this.#tickIndex) * frameSamples) >>> 0;
        for (const p of telephoneEventPackets(digit, {
          durationMs: 160,
          packetIntervalMs: periodMs,
          clockRateHz: 8000,
        })) {
          this.#dtmfQueue.push({ tick: tick++, payload: p.payload, marker: p.marker, timestamp });
        }
        tick += Math.round(100 / periodMs);
      }
      // A marker entry with no payload resolves the promise after the last pause.
      this.#dtmfQueue.push({ tick, timestamp: 0, marker: false, done: resolve });
    });
  }

  updateRemote(remote: { readonly address: string; readonly port: number }, hold: boolean): void {
    this.#socket.setRemote(remote.address, remote.port);
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
    this.#log.debug({ otherPtDropped: this.#otherPtDropped }, 'media leg closed');
  }
}

/** Allocates RTP ports before the SDP answer and starts legs on the shared ticker. */
export class RtpLegFactory implements MediaLegFactory {
  readonly #pool: PortPool;
  readonly #host: string;
  readonly #ticker: Ticker;
  readonly #logger: Logger;
  readonly #inactivityTimeoutMs: number;

  constructor(options: {
    pool: PortPool;
    host: string;
    ticker: Ticker;
    logger: Logger;
    inactivityTimeoutMs?: number;
  }) {
    this.#pool = options.pool;
    this.#host = options.host;
    this.#ticker = options.ticker;
    this.#logger = options.logger;
    this.#inactivityTimeoutMs = options.inactivityTimeoutMs ?? 30_000;
  }

  async allocate(): Promise<PendingMediaLeg> {
    const socket = await RtpSocket.open({
      pool: this.#pool,
      host: this.#host,
      inactivityTimeoutMs: this.#inactivityTimeoutMs,
      logger: this.#logger,
    });
    let started = false;
    return {
      localPort: socket.port,
      start: (media) => {
        started = true;
        return new RtpLeg({ socket, media, ticker: this.#ticker, logger: this.#logger });
      },
      release: () => {
        if (!started) socket.close();
      },
    };
  }
}
