import type { Agent } from '../agent/agent.js';
import type { Logger } from '../observability/logger.js';

/** A cut-off reply with no word from the transport: how long to wait before asking the same agent to go on. */
const SETTLE_MS = 300;
const WATCH_PERIOD_MS = 50;
/**
 * After the stall bound, how long a replacement session has to make itself heard before the fallback
 * prompt takes over: stall 2 s + 0.7 s + the prompt's first frame keeps dead air within 3 s.
 */
export const RECOVERY_BUDGET_MS = 700;

/** One provider failure, from the moment it was noticed until the caller hears audio again. */
export interface Incident {
  readonly kind: 'stall' | 'cut' | 'fatal' | 'closed';
  readonly at: number;
  /** The reply that broke, as far as it had arrived (for the continuation prompt). */
  readonly cutOff: string | undefined;
  /** The transport said it replaced its connection (or is doing so). */
  signalled: boolean;
  /** Agents asked to continue in this incident. */
  readonly primed: Set<Agent>;
  replaced: boolean;
}

/** What the watchdog reads from, and asks of, the agent supervisor (agent-supervisor.ts). */
export interface DeadAirWatchHooks {
  readonly now: () => number;
  readonly log: Logger;
  /** Dead air inside a reply that counts as a stalled provider. */
  readonly stallMs: number;
  /** A reply is arriving (first accepted delta to its turn end). */
  readonly replying: () => boolean;
  readonly incident: () => Incident | undefined;
  readonly ended: () => boolean;
  /** Silence is dead air: the caller can hear us and the playout queue is empty. */
  readonly silenceCounts: () => boolean;
  readonly hasAgent: () => boolean;
  /** Ask the current agent to continue the broken reply. */
  readonly prime: (inc: Incident) => void;
  /** Replace the agent (a stalled reply, or an incident the same agent did not recover from). */
  readonly replace: (kind: Incident['kind']) => void;
  /** Give up on the agent: failover targets, else the fallback prompt. */
  readonly fallback: () => void;
}

/**
 * The dead-air watchdog: while a reply is arriving or an incident is open it measures the silence the
 * caller hears, and replaces the agent after `stallMs`, falling back after `stallMs + RECOVERY_BUDGET_MS`.
 */
export class DeadAirWatch {
  readonly #h: DeadAirWatchHooks;
  #timer: NodeJS.Timeout | undefined;
  #silentSince: number | undefined;

  constructor(hooks: DeadAirWatchHooks) {
    this.#h = hooks;
  }

  arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#check(), WATCH_PERIOD_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Audio is flowing again (or a new agent is current): no dead air so far. */
  heard(): void {
    this.#silentSince = undefined;
  }

  #check(): void {
    const h = this.#h;
    if (!h.replying() && h.incident() === undefined) {
      this.stop();
      return;
    }
    if (h.ended()) return this.stop();
    const now = h.now();
    const inc = h.incident();
    if (inc !== undefined && !inc.signalled && now - inc.at >= SETTLE_MS) h.prime(inc);
    // The caller hears nothing only once the queue is empty; on hold or mid-transfer silence is expected.
    if (!h.silenceCounts()) {
      this.#silentSince = undefined;
      return;
    }
    this.#silentSince ??= now;
    const silentMs = now - this.#silentSince;
    if (inc === undefined) {
      if (silentMs >= h.stallMs) {
        h.log.warn({ silentMs }, 'agent reply stalled');
        h.replace('stall');
      }
      return;
    }
    if (silentMs >= h.stallMs + RECOVERY_BUDGET_MS) {
      h.log.error({ silentMs, kind: inc.kind }, 'agent did not recover in time; falling back');
      h.fallback();
      return;
    }
    if (!inc.replaced && silentMs >= h.stallMs && h.hasAgent()) h.replace(inc.kind);
  }
}
