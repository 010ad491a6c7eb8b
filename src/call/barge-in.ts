/** The part of the playout queue barge-in needs (implemented by media/playout's PlayoutStream). */
export interface PlayoutControl {
  /** Empties the queue at once; per item, the ms actually sent on RTP. */
  flush(): {
    readonly items: ReadonlyArray<{
      readonly itemId: string;
      readonly responseId: string;
      readonly sentMs: number;
    }>;
  };
  /** The item whose frames were sent last, with its total ms sent. */
  readonly currentItem:
    { readonly itemId: string; readonly responseId: string; readonly sentMs: number } | undefined;
  /** Drop queued and future frames of this response. */
  blockResponse(responseId: string): void;
  readonly queuedMs: number;
}

export interface BargeInDecision {
  /**
   * `paused` / `resumed`: server-owned interruptions (turns/interruption-policy.ts) paused playout on a
   * candidate, and resumed it after a false interruption (a cough, a "mhm"): nothing was flushed.
   */
  readonly action: 'interrupted' | 'ignored-disabled' | 'nothing-playing' | 'paused' | 'resumed';
  readonly itemId?: string;
  readonly responseId?: string;
  /** ms of the interrupted item the caller actually heard (RTP frames sent). */
  readonly playedMs?: number;
  /** ms of queued audio thrown away. */
  readonly flushedMs?: number;
}

export interface BargeInOptions {
  readonly enabled: boolean;
  readonly playout: PlayoutControl;
  /** Tell the agent (provider) what was heard; errors are the caller's to log. */
  readonly interrupt: (heard: { playedMs: number; itemId?: string }) => void;
  readonly onDecision?: (decision: BargeInDecision) => void;
}

/**
 * Barge-in state machine (DESIGN.md §4, STYLE.md §3–4). On caller speech it flushes playout in the same
 * turn of the event loop — before the next 20 ms tick can send another frame — tells the agent how much of
 * the current item was heard, and drops late audio of the interrupted response by response id.
 */
export class BargeInController {
  readonly #opts: BargeInOptions;
  /** The response whose audio is arriving (between its first delta and its turn end). */
  #activeResponse: string | undefined;
  readonly #blocked = new Set<string>();
  #count = 0;

  constructor(options: BargeInOptions) {
    this.#opts = options;
  }

  get bargeIns(): number {
    return this.#count;
  }

  /** Call for every assistant audio chunk; false means drop it (a cancelled response's late delta). */
  acceptAudio(responseId: string): boolean {
    if (this.#blocked.has(responseId)) return false;
    this.#activeResponse = responseId;
    return true;
  }

  turnEnded(responseId: string): void {
    if (this.#activeResponse === responseId) this.#activeResponse = undefined;
  }

  userSpeechStarted(): BargeInDecision {
    const decision = this.#decide();
    this.#opts.onDecision?.(decision);
    return decision;
  }

  /**
   * The server cuts the agent off (AMD voicemail drop: the beep sounded): the same flush, block and
   * truncate as a barge-in, whatever the profile's barge-in setting; not counted or reported as one.
   */
  cut(): BargeInDecision {
    return this.#decide(true);
  }

  #decide(force = false): BargeInDecision {
    if (!force && !this.#opts.enabled) return { action: 'ignored-disabled' };
    const playout = this.#opts.playout;
    const queuedMs = playout.queuedMs;
    const active = this.#activeResponse;
    if (active === undefined && queuedMs === 0) return { action: 'nothing-playing' };

    const current = playout.currentItem;
    playout.flush();
    const responseId = active ?? current?.responseId;
    if (responseId !== undefined) {
      this.#blocked.add(responseId);
      playout.blockResponse(responseId);
    }
    if (current !== undefined && current.responseId !== responseId) {
      this.#blocked.add(current.responseId);
      playout.blockResponse(current.responseId);
    }
    this.#activeResponse = undefined;
    if (!force) this.#count++;
    // The item being heard is the one last sent; if the new response has not reached RTP yet, 0 ms of it was heard.
    const heardItem = current !== undefined && current.responseId === responseId ? current : undefined;
    const playedMs = heardItem?.sentMs ?? 0;
    this.#opts.interrupt(heardItem === undefined ? { playedMs } : { playedMs, itemId: heardItem.itemId });
    return {
      action: 'interrupted',
      playedMs,
      flushedMs: queuedMs,
      ...(heardItem === undefined ? {} : { itemId: heardItem.itemId }),
      ...(responseId === undefined ? {} : { responseId }),
    };
  }
}
