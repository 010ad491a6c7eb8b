/**
 * The clocks of one call that end it (DESIGN.md §4: idle and hold-music calls must end): a maximum duration
 * and an idle timeout, plus the bounded wait for the first inbound RTP before the greeting. One timer each,
 * re-armed only when it fires, never per packet.
 */
import type { MediaLeg } from './media-leg.js';

export interface CallTimersDeps {
  readonly maxDurationMs: number;
  readonly idleTimeoutMs: number;
  readonly now: () => number;
  /** Whether the idle timeout may end the call now (only an active call idles out). */
  readonly idleEligible: () => boolean;
  /** Something is being played to the caller (counts as activity). */
  readonly playing: () => boolean;
  readonly onMaxDuration: () => void;
  readonly onIdle: () => void;
}

export class CallTimers {
  readonly #d: CallTimersDeps;
  #lastActivityAt: number;
  #maxTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(deps: CallTimersDeps) {
    this.#d = deps;
    this.#lastActivityAt = deps.now();
  }

  /** Caller or agent did something (speech, audio, a key). */
  activity(): void {
    this.#lastActivityAt = this.#d.now();
  }

  start(): void {
    this.#maxTimer = setTimeout(() => this.#d.onMaxDuration(), this.#d.maxDurationMs);
    this.#maxTimer.unref();
    const idleMs = this.#d.idleTimeoutMs;
    const check = (): void => {
      if (this.#stopped) return;
      if (this.#d.playing()) this.activity();
      const idleFor = this.#d.now() - this.#lastActivityAt;
      if (idleFor >= idleMs && this.#d.idleEligible()) {
        this.#d.onIdle();
        return;
      }
      this.#idleTimer = setTimeout(check, Math.max(100, idleMs - idleFor));
      this.#idleTimer.unref();
    };
    this.#idleTimer = setTimeout(check, idleMs);
    this.#idleTimer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#maxTimer);
    clearTimeout(this.#idleTimer);
  }
}

/** NAT latching: resolves when the first inbound RTP has latched the leg, or after `maxWaitMs`. */
export function firstRtpOrTimeout(media: MediaLeg, maxWaitMs: number): Promise<void> {
  if (media.latched) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, maxWaitMs);
    function done(): void {
      clearTimeout(timer);
      media.off('latched', done);
      resolve();
    }
    media.on('latched', done);
  });
}
