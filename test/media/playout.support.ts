/** Fakes shared by the playout tests: a manual clock with one-shot timers, and a recording RTP sink. */
import type { RtpSink } from '../../src/media/playout.js';

interface FakeTimer {
  readonly id: number;
  readonly dueMs: number;
  readonly callback: () => void;
}

/** A monotonic clock that only moves when told; timers fire in due order, each offset by `jitterMs()`. */
export class FakeClock {
  nowMs: number;
  /** Extra delay (may be negative: an early wake) added to each timer when it is armed. */
  jitterMs: () => number = () => 0;
  /** Every delay the code under test asked for, with the clock reading at that moment. */
  readonly requests: Array<{ atMs: number; delayMs: number }> = [];
  #timers: FakeTimer[] = [];
  #nextId = 1;

  constructor(startMs = 1000) {
    this.nowMs = startMs;
  }

  readonly now = (): number => this.nowMs;

  readonly setTimer = (callback: () => void, delayMs: number): number => {
    this.requests.push({ atMs: this.nowMs, delayMs });
    const id = this.#nextId++;
    this.#timers.push({ id, dueMs: this.nowMs + Math.max(0, delayMs + this.jitterMs()), callback });
    return id;
  };

  readonly clearTimer = (handle: unknown): void => {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  };

  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Fires every timer due up to `targetMs` (in due order, the clock set to each due time), then sets the clock. */
  advanceTo(targetMs: number): void {
    for (;;) {
      let next: FakeTimer | undefined;
      for (const t of this.#timers)
        if (t.dueMs <= targetMs && (next === undefined || t.dueMs < next.dueMs)) next = t;
      if (next === undefined) break;
      const fired = next;
      this.#timers = this.#timers.filter((t) => t !== fired);
      this.nowMs = Math.max(this.nowMs, fired.dueMs);
      fired.callback();
    }
    this.nowMs = Math.max(this.nowMs, targetMs);
  }

  advanceBy(ms: number): void {
    this.advanceTo(this.nowMs + ms);
  }
}

export interface SentPacket {
  readonly sequence: number;
  readonly timestamp: number;
  readonly marker: boolean;
  /** First payload byte (tests tag frames by it). */
  readonly tag: number;
}

/** Records every packet; copies nothing but the tag, as a real sink must not keep the payload. */
export class RecordingSink implements RtpSink {
  readonly packets: SentPacket[] = [];
  send(payload: Buffer, sequence: number, timestamp: number, marker: boolean): void {
    this.packets.push({ sequence, timestamp, marker, tag: payload[0] ?? -1 });
  }
}

/** A 160-byte PCMU-sized frame whose first byte is `tag`. */
export function frame(tag: number): Buffer {
  const b = Buffer.alloc(160, 0xff);
  b[0] = tag;
  return b;
}
