/**
 * RFC 4733 digits out of an RTP leg, slot by slot: one event packet per audio packet slot (§2.5.1.2: events
 * go at the audio's packetization; audio is paused meanwhile), all packets of a digit stamped with the media
 * time of its first slot (§2.5.1.1), durations in the event's negotiated clock, the end packet sent three
 * times (§2.5.1.4), and a pause between digits. The leg asks it every slot; it writes nothing itself.
 */
import { scheduleTelephoneEvents } from '../media/rtp/dtmf.js';

interface QueuedEvent {
  readonly slot: number;
  readonly payload?: Buffer;
  readonly marker: boolean;
  readonly timestamp: number;
  readonly done?: () => void;
}

export class DtmfOutQueue {
  #queue: QueuedEvent[] = [];

  /** The last slot anything is queued for (undefined when idle). */
  get lastSlot(): number | undefined {
    return this.#queue.at(-1)?.slot;
  }

  /** True when a digit's packet takes the place of audio in `slot` (§2.5: one timeline for both). */
  replacesAudio(slot: number): boolean {
    const next = this.#queue[0];
    return next?.payload !== undefined && next.slot <= slot;
  }

  /**
   * Queues `digits` from `slot` on; `timestampOf(slot)` is the RTP timestamp of a slot on the wire's clock.
   * Resolves once the last digit and its pause have been played (or the queue is cleared).
   */
  schedule(
    digits: string,
    o: {
      readonly slot: number;
      readonly ptimeMs: number;
      readonly clockRateHz: number;
      readonly timestampOf: (slot: number) => number;
    },
  ): Promise<void> {
    return new Promise<void>((resolve) => {
      // One slot per ptime: the plan's ticks are slots, its timestamps offsets from this slot's.
      const plan = scheduleTelephoneEvents(digits, {
        clockRateHz: o.clockRateHz,
        ptimeMs: o.ptimeMs,
        tickPeriodMs: o.ptimeMs,
        durationMs: 160,
        pauseMs: 100,
      });
      const base = o.timestampOf(o.slot);
      for (const p of plan.packets) {
        const timestamp = (base + p.timestampOffset) >>> 0;
        this.#queue.push({ slot: o.slot + p.tick, payload: p.payload, marker: p.marker, timestamp });
      }
      // A marker entry with no payload resolves the promise after the last pause.
      this.#queue.push({ slot: o.slot + plan.endTick, timestamp: 0, marker: false, done: resolve });
    });
  }

  /** The event packet due in `slot`, if any, handed to `write` (skipped while held: nothing is sent). */
  playSlot(
    slot: number,
    held: boolean,
    write: (payload: Buffer, timestamp: number, marker: boolean) => void,
  ): void {
    const next = this.#queue[0];
    if (next === undefined || next.slot > slot) return;
    this.#queue.shift();
    if (next.payload !== undefined && !held) write(next.payload, next.timestamp, next.marker);
    next.done?.();
  }

  /** Drops everything queued and resolves every pending send. */
  clear(): void {
    for (const e of this.#queue) e.done?.();
    this.#queue = [];
  }
}
