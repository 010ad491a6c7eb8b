/**
 * RFC 4733 telephone-event (DTMF over RTP): a receiver that turns event packets into one digit per key
 * press, and a generator of the packets for sending a digit.
 *
 * Payload (RFC 4733 §2.3): event (8 bits) | E (end) | R | volume (6 bits, −dBm0) | duration (16 bits, in
 * RTP timestamp units since the event's timestamp). All packets of one event carry the same RTP timestamp
 * (the event start, §2.5.1.1); the first has the marker bit; updates grow the duration; the last packet has
 * E set and is sent three times (§2.5.1.4).
 */
import { DTMF_EVENT_DIGITS, type DtmfDigit } from '../../dtmf-digits.js';
import { tsDiff } from './packet.js';

const DIGITS = DTMF_EVENT_DIGITS;

/** The digit for event code 0–15, or undefined for other events (flash, tones). */
export function eventToDigit(event: number): DtmfDigit | undefined {
  return DIGITS[event];
}

/** The event code for a digit (case-insensitive for A–D), or undefined. */
export function digitToEvent(digit: string): number | undefined {
  const i = DIGITS.indexOf(digit.toUpperCase() as DtmfDigit);
  return i < 0 ? undefined : i;
}

/** One key press, reported once. */
export interface DtmfDigitEvent {
  readonly digit: DtmfDigit;
  readonly event: number;
  readonly durationMs: number;
  /** Power level in −dBm0 (0–63). */
  readonly volume: number;
  /** RTP timestamp of the event start. */
  readonly timestamp: number;
  /** False when the event was closed without an end packet (all three lost, or flush()). */
  readonly endReceived: boolean;
}

export interface TelephoneEventReceiverOptions {
  /** Called once per event, when it ends. */
  readonly onDigit: (event: DtmfDigitEvent) => void;
  /** Called when an event starts (first packet seen), for a quick reaction such as stopping a prompt. */
  readonly onDigitStart?: (digit: DtmfDigit, timestamp: number) => void;
  /** telephone-event clock rate from SDP (a=rtpmap:101 telephone-event/8000). Default 8000. */
  readonly clockRateHz?: number;
}

export interface TelephoneEventCounters {
  packets: number;
  /** Payloads shorter than 4 bytes. */
  malformed: number;
  /** Events reported through onDigit. */
  digits: number;
  /** Events with a code outside 0–15 (ignored). */
  unknownEvents: number;
  /** Packets for an event that had already ended (the retransmitted end packets), or for an older event. */
  ignored: number;
}

/**
 * Turns telephone-event packets into digits. A new event is recognised by a new RTP timestamp (the marker
 * may be lost); each event is reported exactly once, on its first end packet. The packet path allocates
 * nothing; reporting a digit allocates one small object.
 */
export class TelephoneEventReceiver {
  readonly counters: TelephoneEventCounters = {
    packets: 0,
    malformed: 0,
    digits: 0,
    unknownEvents: 0,
    ignored: 0,
  };
  readonly #onDigit: (event: DtmfDigitEvent) => void;
  readonly #onDigitStart: ((digit: DtmfDigit, timestamp: number) => void) | undefined;
  readonly #clockRateHz: number;
  #active = false;
  #ended = false;
  #timestamp = 0;
  #event = 0;
  #volume = 0;
  #durationSamples = 0;
  /** Duration of earlier segments of a long event (RFC 4733 §2.5.1.3). */
  #priorSamples = 0;

  constructor(options: TelephoneEventReceiverOptions) {
    this.#onDigit = options.onDigit;
    this.#onDigitStart = options.onDigitStart;
    this.#clockRateHz = options.clockRateHz ?? 8000;
  }

  /** Feeds the payload `buf[offset, offset+length)` of one telephone-event RTP packet. Never throws. */
  receive(buf: Buffer, offset: number, length: number, timestamp: number, marker: boolean): void {
    this.counters.packets++;
    if (length < 4 || offset < 0 || offset + 4 > buf.length) {
      this.counters.malformed++;
      return;
    }
    const event = buf[offset] ?? 0;
    const flags = buf[offset + 1] ?? 0;
    const end = (flags & 0x80) !== 0;
    const volume = flags & 0x3f;
    const durationSamples = buf.readUInt16BE(offset + 2);

    if (this.#active && timestamp === this.#timestamp) {
      if (this.#ended) {
        this.counters.ignored++; // retransmitted end packet (§2.5.1.4)
        return;
      }
      // Updates can be reordered: the duration only grows.
      if (durationSamples > this.#durationSamples) this.#durationSamples = durationSamples;
      this.#volume = volume;
      if (end) this.#finish(true);
      return;
    }
    if (this.#active && tsDiff(timestamp, this.#timestamp) < 0) {
      this.counters.ignored++; // a straggler of an earlier event
      return;
    }
    if (this.#active && !this.#ended) {
      // §2.5.1.3: an event longer than the 16-bit duration continues in a new segment whose timestamp is the
      // previous one plus its duration, without the marker bit.
      if (!marker && event === this.#event && tsDiff(timestamp, this.#timestamp) === this.#durationSamples) {
        this.#priorSamples += this.#durationSamples;
        this.#timestamp = timestamp;
        this.#durationSamples = durationSamples;
        if (end) this.#finish(true);
        return;
      }
      this.#finish(false); // its end packets were all lost
    }
    this.#active = true;
    this.#ended = false;
    this.#timestamp = timestamp;
    this.#event = event;
    this.#volume = volume;
    this.#durationSamples = durationSamples;
    this.#priorSamples = 0;
    const digit = eventToDigit(event);
    if (digit !== undefined) this.#onDigitStart?.(digit, timestamp);
    if (end) this.#finish(true);
  }

  /** Feeds a parsed RTP packet (see parseRtp) of the telephone-event payload type. */
  receivePacket(packet: {
    readonly buffer: Buffer;
    readonly payloadOffset: number;
    readonly payloadLength: number;
    readonly timestamp: number;
    readonly marker: boolean;
  }): void {
    this.receive(packet.buffer, packet.payloadOffset, packet.payloadLength, packet.timestamp, packet.marker);
  }

  /** Reports an event still in progress (end of stream, inactivity). */
  flush(): void {
    if (this.#active && !this.#ended) this.#finish(false);
  }

  #finish(endReceived: boolean): void {
    this.#ended = true;
    const digit = eventToDigit(this.#event);
    if (digit === undefined) {
      this.counters.unknownEvents++;
      return;
    }
    this.counters.digits++;
    this.#onDigit({
      digit,
      event: this.#event,
      durationMs: ((this.#priorSamples + this.#durationSamples) * 1000) / this.#clockRateHz,
      volume: this.#volume,
      timestamp: (this.#timestamp - this.#priorSamples) >>> 0,
      endReceived,
    });
  }
}

/** Writes a 4-byte telephone-event payload at `offset` and returns 4. Allocation-free. */
export function writeTelephoneEvent(
  buf: Buffer,
  offset: number,
  event: number,
  end: boolean,
  volume: number,
  durationSamples: number,
): number {
  buf[offset] = event & 0xff;
  buf[offset + 1] = (end ? 0x80 : 0) | (volume & 0x3f);
  buf.writeUInt16BE(durationSamples & 0xffff, offset + 2);
  return 4;
}

/** One packet of a generated event. All packets of an event use the same RTP timestamp (the event start). */
export interface TelephoneEventPacket {
  /** 4-byte RFC 4733 payload (a fresh Buffer per packet). */
  readonly payload: Buffer;
  /** RTP marker bit: set on the first packet of the event only (§2.5.1.1). */
  readonly marker: boolean;
  readonly end: boolean;
  readonly durationSamples: number;
  /** When to send it, in ms after the event start. Each packet gets the next RTP sequence number. */
  readonly sendAtMs: number;
}

export interface TelephoneEventOptions {
  /** Tone duration. Default 100 ms; at most 0xFFFF samples (8.19 s at 8 kHz). */
  readonly durationMs?: number;
  /** Default 8000. */
  readonly clockRateHz?: number;
  /** Interval between updates (§2.5.1.2). Default 50 ms. */
  readonly packetIntervalMs?: number;
  /** −dBm0, 0–63. Default 10. */
  readonly volume?: number;
  /** How many times the end packet is sent (§2.5.1.4 says three). Default 3. */
  readonly endPackets?: number;
}

/**
 * The packets that send `digit`: the first with the marker and duration 0 at t = 0, an update every
 * `packetIntervalMs` with the duration so far, then `endPackets` end packets with the final duration on the
 * following update slots (§2.5.1.4). The caller stamps them with one RTP timestamp and consecutive
 * sequence numbers on its own clock. Throws RangeError for an unknown digit or too long a duration.
 */
export function* telephoneEventPackets(
  digit: string,
  options: TelephoneEventOptions = {},
): Generator<TelephoneEventPacket, void, undefined> {
  const event = digitToEvent(digit);
  if (event === undefined) throw new RangeError(`not a DTMF digit: ${JSON.stringify(digit)}`);
  const durationMs = options.durationMs ?? 100;
  const clockRateHz = options.clockRateHz ?? 8000;
  const intervalMs = options.packetIntervalMs ?? 50;
  const volume = options.volume ?? 10;
  const endPackets = options.endPackets ?? 3;
  const totalSamples = Math.round((durationMs * clockRateHz) / 1000);
  if (totalSamples > 0xffff || totalSamples < 0)
    throw new RangeError(`DTMF duration out of range: ${durationMs} ms`);
  if (!(intervalMs > 0)) throw new RangeError('packetIntervalMs must be positive');

  let first = true;
  for (let t = 0; t < durationMs; t += intervalMs) {
    const durationSamples = Math.round((t * clockRateHz) / 1000);
    const payload = Buffer.alloc(4);
    writeTelephoneEvent(payload, 0, event, false, volume, durationSamples);
    yield { payload, marker: first, end: false, durationSamples, sendAtMs: t };
    first = false;
  }
  // The end packets keep the update rhythm: the first goes out on the next update slot after the tone.
  const endAtMs = Math.ceil(durationMs / intervalMs) * intervalMs;
  for (let i = 0; i < endPackets; i++) {
    const payload = Buffer.alloc(4);
    writeTelephoneEvent(payload, 0, event, true, volume, totalSamples);
    yield {
      payload,
      marker: first,
      end: true,
      durationSamples: totalSamples,
      sendAtMs: endAtMs + i * intervalMs,
    };
    first = false;
  }
}

/** One packet of a planned digit sequence (see scheduleTelephoneEvents). */
export interface ScheduledTelephoneEvent extends TelephoneEventPacket {
  /** Tick of the sender's clock, counted from the sequence's first tick, on which to send it. */
  readonly tick: number;
  /**
   * RTP timestamp of the event start relative to the audio timestamp at tick 0, in units of the
   * negotiated clock: every packet of one event carries the same one (§2.5.1.1).
   */
  readonly timestampOffset: number;
}

export interface TelephoneEventScheduleOptions {
  /** The negotiated telephone-event clock rate: 8000 with G.711, 48000 for telephone-event/48000 (Opus). */
  readonly clockRateHz: number;
  /** The leg's actual packetization: one update per ptime (§2.5.1.2). */
  readonly ptimeMs: number;
  /** Period of the clock that sends the packets (the shared media ticker). */
  readonly tickPeriodMs: number;
  /** Tone duration per digit. Default 160 ms. */
  readonly durationMs?: number;
  /** Silence between the last end packet of a digit and the next digit. Default 100 ms. */
  readonly pauseMs?: number;
  readonly volume?: number;
}

/**
 * Plans the RFC 4733 packets for `digits` on a sender clock ticking every `tickPeriodMs`: per digit an
 * update every ptime with the duration so far in clock units, then three end packets with the final
 * duration (§2.5.1.4), all stamped with the event's start; the next digit starts `pauseMs` after the last
 * end packet. Durations and timestamps come from the negotiated clock rate and the ptime, so a 30 ms leg
 * or telephone-event/48000 gets them right. `endTick` is the tick after the last pause. Throws RangeError
 * for an unknown digit.
 */
export function scheduleTelephoneEvents(
  digits: string,
  options: TelephoneEventScheduleOptions,
): { packets: ScheduledTelephoneEvent[]; endTick: number } {
  const { clockRateHz, ptimeMs, tickPeriodMs } = options;
  if (!(clockRateHz > 0) || !(ptimeMs > 0) || !(tickPeriodMs > 0)) {
    throw new RangeError('clockRateHz, ptimeMs and tickPeriodMs must be positive');
  }
  const durationMs = options.durationMs ?? 160;
  const pauseMs = options.pauseMs ?? 100;
  const packets: ScheduledTelephoneEvent[] = [];
  let startMs = 0;
  for (const digit of digits) {
    const timestampOffset = Math.round((startMs * clockRateHz) / 1000);
    let lastMs = startMs;
    for (const p of telephoneEventPackets(digit, {
      durationMs,
      clockRateHz,
      packetIntervalMs: ptimeMs,
      ...(options.volume === undefined ? {} : { volume: options.volume }),
    })) {
      lastMs = startMs + p.sendAtMs;
      packets.push({ ...p, tick: Math.round(lastMs / tickPeriodMs), timestampOffset });
    }
    startMs = lastMs + ptimeMs + pauseMs;
  }
  return { packets, endTick: Math.round(startMs / tickPeriodMs) };
}

export type { DtmfDigit };
