/** How long a tool call waits for the sentence of its own response to start arriving. */
export const TOOL_AUDIO_GRACE_MS = 500;

export interface ReplyTrackerOptions {
  /** Resolves when the playout queue is empty. */
  readonly whenDrained: () => Promise<void>;
  readonly now: () => number;
  /** Told when the wait ran out before the reply had played. */
  readonly onTimeout?: () => void;
}

/**
 * Which assistant reply is still on its way to the caller, so hang-up and transfer act only after the
 * current sentence has played (DESIGN.md §4). Fed the agent's audio, turn ends and tool calls.
 */
export class ReplyTracker {
  readonly #opts: ReplyTrackerOptions;
  #inProgress: string | undefined;
  /** A tool call arrived and the response carrying it has not ended yet. */
  #toolTurnOpen = false;
  #ended = false;
  /** Replies whose audio has started, so a caller can wait for the next one. */
  #replies = 0;
  readonly #waiters = new Set<() => void>();

  constructor(options: ReplyTrackerOptions) {
    this.#opts = options;
  }

  /** The response whose audio is arriving (first delta to turn end). */
  get inProgress(): string | undefined {
    return this.#inProgress;
  }

  audio(responseId: string): void {
    const starting = this.#inProgress === undefined;
    if (responseId !== this.#inProgress) this.#replies++;
    this.#inProgress = responseId;
    if (starting) this.#notify();
  }

  turnEnded(responseId: string): void {
    if (this.#inProgress === responseId) this.#inProgress = undefined;
    this.#toolTurnOpen = false;
    this.#notify();
  }

  toolCall(): void {
    this.#toolTurnOpen = true;
  }

  /** The call ended: every wait resolves now. */
  end(): void {
    this.#ended = true;
    this.#notify();
  }

  /**
   * Resolves once the reply in progress has ended and the playout queue has drained, or after `maxWaitMs`.
   * A tool call can arrive before the audio of its own response (OpenAI sends function_call_arguments.done
   * first when the model calls the tool before speaking), so after a tool call the sentence gets a short
   * grace to start; providers that send a bare tool call (no audio, no turn end, e.g. Gemini) lose only that.
   */
  async waitForReplyPlayed(maxWaitMs: number): Promise<void> {
    const { now } = this.#opts;
    const deadline = now() + maxWaitMs;
    const left = (): number => Math.max(0, deadline - now());
    if (this.#inProgress === undefined && this.#toolTurnOpen) {
      await this.#waitUntil(
        () => this.#inProgress !== undefined || !this.#toolTurnOpen,
        Math.min(TOOL_AUDIO_GRACE_MS, left()),
      );
    }
    await this.#waitUntil(() => this.#inProgress === undefined, left());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, left());
    });
    await Promise.race([this.#opts.whenDrained(), timeout]);
    clearTimeout(timer);
    if (now() >= deadline) this.#opts.onTimeout?.();
  }

  /**
   * Resolves once a reply that starts after this call (e.g. the one a sendText asked for) has played and
   * the queue drained, or after `maxWaitMs` (also when no reply ever starts).
   */
  async waitForNextReplyPlayed(maxWaitMs: number): Promise<void> {
    const { now } = this.#opts;
    const deadline = now() + maxWaitMs;
    const seen = this.#replies;
    await this.#waitUntil(() => this.#replies > seen, maxWaitMs);
    if (this.#replies > seen) await this.waitForReplyPlayed(Math.max(0, deadline - now()));
  }

  /** Resolves when `done()` holds (checked on audio start and turn ends), the call ends, or after `ms`. */
  #waitUntil(done: () => boolean, ms: number): Promise<void> {
    if (done() || this.#ended) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const check = (): void => {
        if (done() || this.#ended) finish();
      };
      const timer = setTimeout(finish, ms);
      this.#waiters.add(check);
    });
  }

  #notify(): void {
    for (const w of this.#waiters) w();
  }
}
