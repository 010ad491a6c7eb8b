/**
 * Graceful drain (issue 12): `serving → draining → stopped`. While draining the instance takes no new calls
 * (admission answers INVITEs 503 + Retry-After, out-of-dialog OPTIONS get 503, /readyz 503, its Redis
 * instance record says `draining`) and the calls in progress run to their own end; once none is left the
 * drain is `stopped` and the process may exit. The timeout bounds it: then every remaining call hears its
 * profile's fallback prompt and gets a BYE. `stopNow()` ends every call at once (a second signal).
 * Side effects are injected (STYLE.md §4): the controller only counts, times and decides.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../observability/logger.js';

export type DrainState = 'serving' | 'draining' | 'stopped';

/** How the drain ended: every call finished on its own, the timeout said goodbye, or a stop was forced. */
export type DrainOutcome = 'drained' | 'timeout' | 'forced';

export interface DrainStatus {
  readonly state: DrainState;
  /** What started it: `SIGTERM`, `api`, … */
  readonly trigger?: string;
  readonly startedAt?: string;
  /** When the remaining calls get the goodbye prompt and a BYE. */
  readonly deadlineAt?: string;
  /** Established calls plus INVITEs admitted and not yet settled. */
  readonly callsRemaining: number;
  readonly outcome?: DrainOutcome;
}

/** How the remaining calls end: the goodbye prompt and a BYE (the deadline), or a BYE at once. */
export type EndCallsMode = 'goodbye' | 'now';

export interface DrainTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface DrainControllerOptions {
  /** DRAIN_TIMEOUT_S in milliseconds. */
  readonly timeoutMs: number;
  /** Calls still counting (established plus admitted INVITEs). */
  readonly activeCalls: () => number;
  /** Ends every remaining call; resolves once they have ended (the caller bounds the prompt). */
  readonly endCalls: (mode: EndCallsMode) => Promise<void>;
  /** Told on every state change (signaling OPTIONS, the instance record). */
  readonly onState?: (state: DrainState) => void;
  readonly logger: Logger;
  /** How often the call count is checked while draining (default 200 ms). */
  readonly pollMs?: number;
  readonly timers?: DrainTimers;
  readonly now?: () => number;
}

const realTimers: DrainTimers = {
  // Unref: a drain never keeps a process alive by itself (its sockets do, while calls remain).
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class DrainController extends EventEmitter<{ state: [DrainState] }> {
  readonly #o: DrainControllerOptions;
  readonly #timers: DrainTimers;
  readonly #now: () => number;
  readonly #log: Logger;
  #state: DrainState = 'serving';
  #trigger: string | undefined;
  #startedAtMs: number | undefined;
  #outcome: DrainOutcome | undefined;
  #poll: unknown;
  #deadline: unknown;
  #ending: Promise<void> | undefined;
  readonly #done: Promise<DrainOutcome>;
  #resolveDone!: (outcome: DrainOutcome) => void;

  constructor(options: DrainControllerOptions) {
    super();
    this.#o = options;
    this.#timers = options.timers ?? realTimers;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger.child({ component: 'drain' });
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  get state(): DrainState {
    return this.#state;
  }

  /** True from the start of the drain on: no new calls. */
  get refusing(): boolean {
    return this.#state !== 'serving';
  }

  /** Resolves once the drain is over (every call ended, by itself or by us). */
  get done(): Promise<DrainOutcome> {
    return this.#done;
  }

  status(): DrainStatus {
    const started = this.#startedAtMs;
    return {
      state: this.#state,
      callsRemaining: this.#o.activeCalls(),
      ...(this.#trigger === undefined ? {} : { trigger: this.#trigger }),
      ...(started === undefined
        ? {}
        : {
            startedAt: new Date(started).toISOString(),
            deadlineAt: new Date(started + this.#o.timeoutMs).toISOString(),
          }),
      ...(this.#outcome === undefined ? {} : { outcome: this.#outcome }),
    };
  }

  /** Starts the drain (idempotent: a drain in progress keeps its trigger and deadline). */
  start(trigger: string): DrainStatus {
    if (this.#state !== 'serving') return this.status();
    this.#trigger = trigger;
    this.#startedAtMs = this.#now();
    this.#setState('draining');
    this.#log.info(
      { trigger, callsRemaining: this.#o.activeCalls(), timeoutMs: this.#o.timeoutMs },
      'drain started: refusing new calls',
    );
    this.#deadline = this.#timers.setTimeout(() => void this.#end('timeout'), this.#o.timeoutMs);
    this.#check();
    return this.status();
  }

  /** Ends every call now (BYE) and completes the drain, started or not. Resolves once they have ended. */
  stopNow(): Promise<void> {
    if (this.#state === 'serving') {
      this.#trigger = 'forced';
      this.#startedAtMs = this.#now();
      this.#setState('draining');
    }
    return this.#end('forced');
  }

  #check(): void {
    if (this.#state !== 'draining' || this.#ending !== undefined) return;
    if (this.#o.activeCalls() === 0) {
      void this.#end('drained');
      return;
    }
    this.#poll = this.#timers.setTimeout(() => this.#check(), this.#o.pollMs ?? 200);
  }

  #end(outcome: DrainOutcome): Promise<void> {
    // A forced stop may overtake a goodbye in progress: it ends the calls at once.
    if (this.#ending !== undefined && !(outcome === 'forced' && this.#outcome === 'timeout'))
      return this.#ending;
    this.#timers.clearTimeout(this.#poll);
    this.#timers.clearTimeout(this.#deadline);
    this.#outcome = outcome;
    const remaining = this.#o.activeCalls();
    if (outcome !== 'drained')
      this.#log.warn({ outcome, callsRemaining: remaining }, 'drain: ending the remaining calls');
    const ending = (
      outcome === 'drained' ? Promise.resolve() : this.#o.endCalls(outcome === 'timeout' ? 'goodbye' : 'now')
    )
      .catch((err: unknown) => this.#log.error({ err }, 'drain: ending calls failed'))
      .then(() => {
        if (this.#state === 'stopped') return;
        this.#setState('stopped');
        this.#log.info({ outcome, durationMs: this.#now() - (this.#startedAtMs ?? 0) }, 'drain complete');
        this.#resolveDone(outcome);
      });
    this.#ending = ending;
    return ending;
  }

  #setState(state: DrainState): void {
    this.#state = state;
    try {
      this.#o.onState?.(state);
    } catch (err) {
      this.#log.error({ err }, 'drain state hook failed');
    }
    this.emit('state', state);
  }
}
