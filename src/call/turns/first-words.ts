/**
 * The first turn of an outbound call (issue 14): the callee answers with "Hello?" before anyone expects
 * the agent to speak, so the greeting waits for the callee's first words (the provider's speech started →
 * ended) or `outbound.greet_after_ms` of silence, whichever comes first. Words already under way at that
 * deadline are let finish (bounded by MAX_WORDS_MS), so the greeting never talks over them.
 */

/** How long the greeting waits for a callee who never says anything (an answering service, a silent line). */
export const DEFAULT_GREET_AFTER_MS = 1000;
/** The longest first utterance waited for once it started. */
const MAX_WORDS_MS = 10_000;

export class FirstWords {
  #speaking = false;
  #ended = false;
  #wake: (() => void) | undefined;

  /** The provider heard the callee start speaking. */
  started(): void {
    this.#speaking = true;
  }

  /** The callee's words ended: the greeting may go. */
  ended(): void {
    this.#speaking = false;
    this.#ended = true;
    this.#wake?.();
  }

  /** Resolves with how the wait ended: the callee spoke, or `silenceMs` passed with nothing said. */
  wait(silenceMs: number): Promise<'words' | 'silence'> {
    if (this.#ended) return Promise.resolve('words');
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout;
      const done = (how: 'words' | 'silence'): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve(how);
      };
      this.#wake = () => done('words');
      timer = setTimeout(() => {
        if (!this.#speaking) return done('silence');
        timer = setTimeout(() => done('silence'), MAX_WORDS_MS);
      }, silenceMs);
    });
  }
}
