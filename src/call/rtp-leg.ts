import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from '../observability/logger.js';
import type { Codec } from '../media/codecs/codec.js';
import { createCodec } from '../media/codecs/index.js';
import { FrameClock } from '../media/frame-clock.js';
import { MAX_QUEUED_AUDIO_MS, PlayoutStream, type RtpSink } from '../media/playout.js';
import { JitterBuffer } from '../media/rtp/jitter-buffer.js';
import { RTP_HEADER_BYTES, writeRtpHeader, type RtpPacket } from '../media/rtp/packet.js';
import type { RtpSocket } from '../media/rtp/socket.js';
import { SRTP_MAX_OVERHEAD_BYTES } from '../media/rtp/srtp/suites.js';
import { TelephoneEventReceiver } from '../media/rtp/dtmf.js';
import type { Ticker, TickSubscriber } from '../media/ticker.js';
import type { NegotiatedCodec, NegotiatedMedia, RtcpAddress, TelephoneEventFormat } from '../sip/sdp.js';
import { DtmfOutQueue } from './dtmf-out.js';
import { rtcpRemote, startLegRtcp, type LegRtcpOptions, type RtcpSession } from './leg-rtcp.js';
import type { SdesKeying } from '../sip/sdp-crypto.js';
import { LegSrtp } from './leg-srtp.js';
import type { CallPlayout, MediaLeg, MediaLegEvents, MediaLegStats, OverflowCounter } from './media-leg.js';
import { encodedSilence, WireTranscoder, type WirePath } from './wire-format.js';

/** Header, the largest payload, and room for the SRTP tag added in place (socket.ts setProtector). */
const MAX_PACKET_BYTES = RTP_HEADER_BYTES + 1500 + SRTP_MAX_OVERHEAD_BYTES;
const OUT_RING = 16;

export interface RtpLegOptions {
  readonly socket: RtpSocket;
  readonly media: NegotiatedMedia;
  readonly ticker: Ticker;
  readonly logger: Logger;
  /** Most agent audio queued ahead of the clock (default {@link MAX_QUEUED_AUDIO_MS}). */
  readonly maxQueuedMs?: number;
  readonly playoutOverflow?: OverflowCounter;
  /** RTCP (RFC 3550) on port + 1 or muxed; absent: none sent, none parsed. */
  readonly rtcp?: LegRtcpOptions;
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
 * Codec: `codec` is the call's for its whole life; a re-offer may switch the wire to another one
 * ({@link setWireFormat}, wire-format.ts), and the leg then converts at the RTP boundary.
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
  #dtmfIn: TelephoneEventReceiver | undefined;
  #telephoneEvent: TelephoneEventFormat | undefined;
  #ssrc = randomInt(0, 0x1_0000_0000);
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
  /** RTP timestamp units per frame (see the constructor). */
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
  readonly #dtmfOut = new DtmfOutQueue();
  /**
   * The audio format on the wire (a re-offer may change it) and the one before it: RFC 3264 §8.3.2, the
   * caller may still send the old format until our answer reached it. No transcoder: the call codec itself.
   */
  #wire: WirePath;
  #previousWire: WirePath | undefined;
  #otherPtDropped = 0;
  readonly #overflowCounter: OverflowCounter | undefined;
  /** RTCP reports and quality figures (leg-rtcp.ts), when enabled. */
  readonly rtcp: RtcpSession | undefined;
  readonly #srtp: LegSrtp;

  constructor(options: RtpLegOptions) {
    super();
    const { media } = options;
    this.codec = createCodec(media.codec.name, media.codec.payloadType);
    this.ptimeMs = media.codec.ptimeMs;
    this.#socket = options.socket;
    this.#ticker = options.ticker;
    this.#log = options.logger;
    // RTP timestamp units per frame: the PCM sample count, except for G.722, whose 8000 Hz RTP clock runs at
    // half its 16 kHz audio rate (RFC 3551 §4.5.2): 160 per 20 ms packet of 320 samples.
    const frameSamples = Math.round((this.codec.clockRateHz * this.ptimeMs) / 1000);
    this.#frameSamples = frameSamples;
    this.#clock = new FrameClock(this.ptimeMs, options.ticker.periodMs);
    this.#silence = encodedSilence(this.codec, this.codec.frameSamples(this.ptimeMs));
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
    this.#wire = { payloadType: media.codec.payloadType, name: media.codec.name };
    this.#setTelephoneEvent(media.telephoneEvent);
    this.#srtp = new LegSrtp(this.#socket, this.#log);
    this.#srtp.set(media.srtp);
    this.#socket.setRemote(media.remote.address, media.remote.port);
    this.#sdpRemote = media.remote;
    this.#hold = media.hold;
    this.#socket.on('packet', (packet) => this.#onPacket(packet));
    this.#socket.on('latched', (address, port) => this.emit('latched', { address, port }));
    this.#socket.on('timeout', () => this.emit('inactive'));
    this.rtcp = startLegRtcp(options.rtcp, media, {
      socket: this.#socket,
      jitter: this.#jitter,
      ptimeMs: this.ptimeMs,
      logger: this.#log,
      ssrc: () => this.#ssrc,
      clockRateHz: () => this.#wire.transcoder?.clockRateHz ?? this.codec.clockRateHz,
      timestampNow: () => this.#timestampOf(Math.max(0, this.#slot)),
    });
    // SRTCP (RFC 3711 §3.4) with the same master keys as SRTP, before the first report goes out.
    this.#srtp.attachRtcp(this.rtcp);
    this.#ticker.add(this);
  }

  get localPort(): number {
    return this.#socket.port;
  }

  get latched(): boolean {
    return this.#socket.latched;
  }

  get jitterDelayMs(): number {
    return this.#jitter.targetDepthMs;
  }

  #setTelephoneEvent(format: TelephoneEventFormat | undefined): void {
    const before = this.#telephoneEvent;
    this.#telephoneEvent = format;
    if (format === undefined) this.#dtmfIn = undefined;
    else if (this.#dtmfIn === undefined || before?.clockRateHz !== format.clockRateHz) {
      this.#dtmfIn = new TelephoneEventReceiver({
        clockRateHz: format.clockRateHz,
        onDigit: (e) => this.emit('dtmf', { digit: e.digit, durationMs: e.durationMs }),
      });
    }
  }

  #onPacket(packet: RtpPacket): void {
    const pt = packet.payloadType;
    const wire =
      pt === this.#wire.payloadType
        ? this.#wire
        : pt === this.#previousWire?.payloadType
          ? this.#previousWire
          : undefined;
    if (wire !== undefined) {
      const audio = wire.transcoder === undefined ? packet : wire.transcoder.toCall(packet);
      if (audio !== undefined) this.#jitter.push(audio);
    } else if (pt === this.#telephoneEvent?.payloadType) {
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
    this.#dtmfOut.playSlot(slot, this.#hold, (payload, timestamp, marker) =>
      this.#write(payload, this.#telephoneEvent?.payloadType ?? 101, timestamp, marker),
    );
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
    if (this.#dtmfOut.replacesAudio(this.#slot)) return;
    const transcoder = this.#wire.transcoder;
    if (transcoder === undefined) {
      this.#write(payload, this.#wire.payloadType, timestamp, marker);
    } else {
      const out = transcoder.toWire(payload, timestamp);
      if (out !== undefined) this.#write(out.payload, out.payloadType, out.timestamp, marker);
    }
    // The call-codec frame: what the recorder decodes as "sent".
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

  /** RTP timestamp of media slot `slot` on the wire (RFC 3550 §5.1: the media clock, continuous across silence). */
  #timestampOf(slot: number): number {
    const timestamp = (this.#initialTimestamp + slot * this.#frameSamples) >>> 0;
    return this.#wire.transcoder === undefined ? timestamp : this.#wire.transcoder.wireTimestamp(timestamp);
  }

  /** RFC 4733 out (dtmf-out.ts), at this leg's packetization and the event's negotiated clock. */
  sendDtmf(digits: string): Promise<void> {
    const te = this.#telephoneEvent;
    if (te === undefined || this.#closed || this.#failed || digits === '') return Promise.resolve();
    const slot = Math.max(this.#dtmfOut.lastSlot ?? this.#slot, this.#slot) + 1;
    return this.#dtmfOut.schedule(digits, {
      slot,
      ptimeMs: this.ptimeMs,
      clockRateHz: te.clockRateHz,
      timestampOf: (s) => this.#timestampOf(s),
    });
  }

  /**
   * A re-offer's answer named another audio format (RFC 3264 §8.3.2): from now on caller packets of `codec`
   * are decoded and packets go out in it, converted from and to the call codec (wire-format.ts); those of
   * the format before stay accepted (the caller may send them until our answer reached it). A wire on another
   * RTP clock goes out under a new SSRC (RFC 7160 §4.1). Throws (leaving the leg as it was) when the codec
   * cannot be built; the caller then refuses the offer.
   */
  setWireFormat(codec: NegotiatedCodec, telephoneEvent: TelephoneEventFormat | undefined): void {
    if (codec.payloadType !== this.#wire.payloadType || codec.name !== this.#wire.name) {
      const next: WirePath =
        codec.name === this.codec.name
          ? { payloadType: codec.payloadType, name: codec.name }
          : {
              payloadType: codec.payloadType,
              name: codec.name,
              transcoder: new WireTranscoder(this.codec, codec, randomInt(0, 0x1_0000_0000)),
            };
      const clockBefore = this.#wire.transcoder?.clockRateHz ?? this.codec.clockRateHz;
      const clockAfter = next.transcoder?.clockRateHz ?? this.codec.clockRateHz;
      if (clockBefore !== clockAfter) this.#ssrc = randomInt(0, 0x1_0000_0000);
      this.#previousWire?.transcoder?.close();
      this.#previousWire = this.#wire;
      this.#wire = next;
      this.#log.info(
        { codec: codec.name, payloadType: codec.payloadType, call: this.codec.name },
        'RTP codec switched',
      );
    }
    this.#setTelephoneEvent(telephoneEvent);
  }

  /**
   * The SDES keys in effect (RFC 4568): the first call builds the SRTP session, a later one with new keys
   * (re-INVITE, §7.1.4) re-keys it, keeping the peer's previous key as a fallback while our answer travels.
   * Keys are never logged: only the suite is.
   */
  setSrtp(keying: SdesKeying | undefined): void {
    this.#srtp.set(keying);
  }

  updateRemote(remote: NegotiatedMedia['remote'], hold: boolean, rtcp?: RtcpAddress): void {
    const moved = remote.address !== this.#sdpRemote.address || remote.port !== this.#sdpRemote.port;
    // RtpSocket unlatches only on a new address; media moved to another port of the same host (RFC 3264
    // §8.3.1) must re-latch too, so clear the latch with an unknown address first.
    if (moved) this.#socket.setRemote('', 0);
    this.#socket.setRemote(remote.address, remote.port);
    this.#sdpRemote = remote;
    this.#hold = hold;
    this.rtcp?.updateRemote(rtcpRemote(remote, rtcp));
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
      ...(this.rtcp === undefined ? {} : { rtcp: this.rtcp.stats() }),
      ...this.#srtp.stats(),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ticker.remove(this);
    this.rtcp?.close(); // its BYE (RFC 3550 §6.6) leaves before the socket closes
    this.#socket.close();
    this.codec.close?.();
    this.#wire.transcoder?.close();
    this.#previousWire?.transcoder?.close();
    this.#dtmfOut.clear();
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
