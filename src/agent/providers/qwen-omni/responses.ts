/**
 * Response bookkeeping for Qwen-Omni barge-in, a small state machine with an injected clock (STYLE.md §4):
 * which response is in progress (so response.cancel is sent only when there is something to cancel — it
 * errors otherwise [Q1]), which responses were cancelled (their late deltas are dropped by id), and whether
 * an error is the expected answer to a cancel that raced the server's own cancellation.
 */

/** Cancelled response ids remembered for dropping late deltas. */
const MAX_CANCELLED = 32;
/** An error this soon after our response.cancel is the documented "nothing to cancel" reply [Q1]. */
const CANCEL_ERROR_WINDOW_MS = 1000;

export class QwenResponses {
  readonly #now: () => number;
  #active: string | undefined;
  readonly #cancelled: string[] = [];
  #lastCancelAtMs = -Infinity;

  constructor(now: () => number) {
    this.#now = now;
  }

  get active(): string | undefined {
    return this.#active;
  }

  /** `response.created`. */
  created(responseId: string): void {
    this.#active = responseId;
  }

  /** `response.done`; returns the status to report for the turn. */
  done(responseId: string, status: string | undefined): 'completed' | 'cancelled' | 'failed' | 'incomplete' {
    if (this.#active === responseId) this.#active = undefined;
    if (status === 'cancelled' || status === 'failed' || status === 'incomplete') return status;
    return this.isCancelled(responseId) ? 'cancelled' : 'completed';
  }

  /** The connection went away: returns the response that will never finish, if any. */
  abandon(): string | undefined {
    const active = this.#active;
    this.#active = undefined;
    return active;
  }

  /** Local barge-in. Returns the response to send response.cancel for, or undefined when idle. */
  cancel(): string | undefined {
    const active = this.#active;
    if (active === undefined) return undefined;
    if (!this.#cancelled.includes(active)) {
      this.#cancelled.push(active);
      if (this.#cancelled.length > MAX_CANCELLED) this.#cancelled.shift();
    }
    this.#lastCancelAtMs = this.#now();
    return active;
  }

  isCancelled(responseId: string): boolean {
    return this.#cancelled.includes(responseId);
  }

  /** An error that answers our own recent response.cancel (nothing left to cancel). */
  isCancelEcho(message: string | undefined): boolean {
    return this.#now() - this.#lastCancelAtMs < CANCEL_ERROR_WINDOW_MS && /cancel/i.test(message ?? '');
  }
}
