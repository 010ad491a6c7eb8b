/**
 * Inactivity of an RTP stream without a clock read or timer per packet: one interval ticks four times per
 * timeout and compares a received-packet counter; `onTimeout` fires after a full timeout of ticks without a
 * new packet (so between 1 and 1.25 × timeoutMs after the last one), once per silent period. Node's
 * monotonic clocks allocate on every read, which is why the hot path only bumps a counter.
 */
export class InactivityWatch {
  readonly #timeoutMs: number;
  readonly #received: () => number;
  readonly #onTimeout: () => void;
  #timer: NodeJS.Timeout | undefined;
  #checkPeriodMs = 0;
  #idleChecks = 0;
  #packetsAtLastCheck = 0;
  #timedOut = false;

  /** `timeoutMs` ≤ 0: never fires (no timer). */
  constructor(timeoutMs: number, received: () => number, onTimeout: () => void) {
    this.#timeoutMs = timeoutMs;
    this.#received = received;
    this.#onTimeout = onTimeout;
    if (timeoutMs <= 0) return;
    this.#checkPeriodMs = Math.max(5, Math.ceil(timeoutMs / 4));
    this.#timer = setInterval(() => this.#onCheck(), this.#checkPeriodMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #onCheck(): void {
    const received = this.#received();
    if (received !== this.#packetsAtLastCheck) {
      this.#packetsAtLastCheck = received;
      this.#idleChecks = 0;
      this.#timedOut = false;
      return;
    }
    this.#idleChecks++;
    if (!this.#timedOut && this.#idleChecks * this.#checkPeriodMs >= this.#timeoutMs) {
      this.#timedOut = true; // once per silent period
      this.#onTimeout();
    }
  }
}
