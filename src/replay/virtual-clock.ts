/**
 * A virtual clock for fast replays: while installed, the global timers and Date.now run on virtual time,
 * so code that uses plain setTimeout/setInterval (CallSession, the tool dispatcher, the replay provider, the
 * recorder's flush) runs unchanged. `run()` jumps from due timer to due timer and lets promise callbacks
 * (and real I/O already finished) settle between them, so minutes of call replay in well under a second.
 * setImmediate and process.nextTick stay real: they are how pending work settles between steps.
 */

interface VirtualTimer {
  readonly id: number;
  at: number;
  readonly seq: number;
  readonly fn: (...args: unknown[]) => void;
  readonly args: unknown[];
  readonly intervalMs: number | undefined;
}

class VirtualHandle {
  readonly #id: number;
  constructor(id: number) {
    this.#id = id;
  }
  get id(): number {
    return this.#id;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  refresh(): this {
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.#id;
  }
}

type Saved = Pick<typeof globalThis, 'setTimeout' | 'clearTimeout' | 'setInterval' | 'clearInterval'> & {
  dateNow: () => number;
};

export class VirtualClock {
  #now: number;
  #nextId = 1;
  #seq = 0;
  readonly #timers = new Map<number, VirtualTimer>();
  #saved: Saved | undefined;
  readonly #realImmediate = globalThis.setImmediate;

  constructor(startMs = Date.now()) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  install(): void {
    if (this.#saved !== undefined) return;
    this.#saved = {
      setTimeout: globalThis.setTimeout,
      clearTimeout: globalThis.clearTimeout,
      setInterval: globalThis.setInterval,
      clearInterval: globalThis.clearInterval,
      dateNow: Date.now,
    };
    const add = (fn: unknown, ms: unknown, args: unknown[], interval: boolean): VirtualHandle => {
      const id = this.#nextId++;
      const delay = Math.max(interval ? 1 : 0, Number(ms) || 0);
      this.#timers.set(id, {
        id,
        at: this.#now + delay,
        seq: this.#seq++,
        fn: fn as (...a: unknown[]) => void,
        args,
        intervalMs: interval ? delay : undefined,
      });
      return new VirtualHandle(id);
    };
    const clear = (handle: unknown): void => {
      if (handle === undefined || handle === null) return;
      this.#timers.delete(handle instanceof VirtualHandle ? handle.id : Number(handle));
    };
    const g = globalThis as unknown as Record<string, unknown>;
    g.setTimeout = (fn: unknown, ms?: unknown, ...args: unknown[]) => add(fn, ms, args, false);
    g.setInterval = (fn: unknown, ms?: unknown, ...args: unknown[]) => add(fn, ms, args, true);
    g.clearTimeout = clear;
    g.clearInterval = clear;
    Date.now = () => this.#now;
  }

  uninstall(): void {
    const s = this.#saved;
    if (s === undefined) return;
    globalThis.setTimeout = s.setTimeout;
    globalThis.clearTimeout = s.clearTimeout;
    globalThis.setInterval = s.setInterval;
    globalThis.clearInterval = s.clearInterval;
    Date.now = s.dateNow;
    this.#saved = undefined;
    this.#timers.clear();
  }

  /** Lets promise chains and finished I/O callbacks run (a few real event-loop turns). */
  async settle(turns = 3): Promise<void> {
    for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => this.#realImmediate(resolve));
  }

  /** Runs due timers in order until `done()` or virtual time passes `untilMs` (absolute). */
  async run(done: () => boolean, untilMs: number): Promise<void> {
    await this.settle();
    while (!done()) {
      let next: VirtualTimer | undefined;
      for (const t of this.#timers.values()) {
        if (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq)) next = t;
      }
      if (next === undefined || next.at > untilMs) {
        this.#now = Math.max(this.#now, untilMs);
        return;
      }
      this.#now = Math.max(this.#now, next.at);
      if (next.intervalMs === undefined) this.#timers.delete(next.id);
      else this.#timers.set(next.id, { ...next, at: next.at + next.intervalMs, seq: this.#seq++ });
      next.fn(...next.args);
      await this.settle(1);
    }
  }
}
