/**
 * Re-prompting a silent caller (issue 14): when neither side has spoken for `limits.reprompt_after_s` — no
 * caller speech by the provider's VAD (comfort noise, CN packets and line hiss are not speech), no agent
 * audio playing, no tool running — the agent gets a note to check on the caller, at most `limits.reprompts`
 * times per silence; caller speech starts the count again. The idle timeout (call-timers.ts) still ends a
 * call that stays silent. One timer, re-armed when it fires.
 */

export const DEFAULT_REPROMPT_TEXT =
  '(System note, not the caller: the caller has been silent for a while. Check briefly that they are still there.)';

export interface RepromptDeps {
  readonly afterMs: number;
  readonly max: number;
  readonly text: string;
  readonly now: () => number;
  /** Whether a note may go now (the call is active, nothing plays, no tool runs). */
  readonly quiet: () => boolean;
  readonly send: (text: string) => void;
  readonly onReprompt: (n: number) => void;
}

export class Reprompter {
  readonly #d: RepromptDeps;
  #lastActivityAt: number;
  #sent = 0;
  #total = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(deps: RepromptDeps) {
    this.#d = deps;
    this.#lastActivityAt = deps.now();
  }

  /** Notes sent on this call. */
  get reprompts(): number {
    return this.#total;
  }

  start(): void {
    this.#lastActivityAt = this.#d.now();
    this.#arm(this.#d.afterMs);
  }

  /** The caller spoke: a new silence gets its own reprompts. */
  callerSpoke(): void {
    this.#sent = 0;
    this.activity();
  }

  /** Either side did something audible. */
  activity(): void {
    this.#lastActivityAt = this.#d.now();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #check(): void {
    if (this.#stopped) return;
    const d = this.#d;
    if (!d.quiet()) {
      // Something plays or a tool runs: look again soon, so the silence counts from its end (±250 ms).
      this.activity();
      this.#arm(250);
      return;
    }
    const silentFor = d.now() - this.#lastActivityAt;
    if (silentFor >= d.afterMs && this.#sent < d.max) {
      this.#sent++;
      this.#total++;
      this.#lastActivityAt = d.now();
      d.send(d.text);
      d.onReprompt(this.#sent);
    }
    this.#arm(Math.max(50, d.afterMs - (d.now() - this.#lastActivityAt)));
  }

  #arm(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#check(), ms);
    this.#timer.unref();
  }
}
