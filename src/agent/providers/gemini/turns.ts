/**
 * Model-turn bookkeeping for Gemini Live, a small state machine with injected side effects (STYLE.md §4).
 *
 * Gemini has no item or response ids, so one id is synthesised per model turn and used as both itemId and
 * responseId. Barge-in: `serverContent.interrupted` means the server already stopped generating; the
 * client flushes playout and must drop any further `modelTurn` audio until the next turn starts [G2]. A
 * local interrupt() does the same without any wire message (there is no truncate in this protocol).
 */

export interface TurnSink {
  audio(audio: Buffer, turnId: string): void;
  /** Deltas are non-final; the whole turn's transcript comes once more as final at turn end. */
  text(text: string, turnId: string, final: boolean): void;
  turnEnd(turnId: string, status: 'completed' | 'cancelled' | 'incomplete'): void;
}

interface Turn {
  readonly id: string;
  /** Interrupted (by the server or locally): further output of this turn is dropped. */
  dropping: boolean;
  /** Accumulated output transcription, emitted as final text at turn end. */
  transcript: string;
}

export class GeminiTurns {
  readonly #sink: TurnSink;
  readonly #prefix: string;
  #seq = 0;
  #current: Turn | undefined;

  constructor(sink: TurnSink, prefix = 'gemini-turn') {
    this.#sink = sink;
    this.#prefix = prefix;
  }

  /** The turn whose output is currently arriving, if any. */
  get currentTurnId(): string | undefined {
    return this.#current?.id;
  }

  get inProgress(): boolean {
    return this.#current !== undefined;
  }

  /** Model audio (already decoded). Dropped when the current turn was interrupted. */
  audio(pcm: Buffer): void {
    const turn = this.#turn();
    if (turn.dropping) return;
    this.#sink.audio(pcm, turn.id);
  }

  /** Output transcription (or a text part): streamed as non-final text. */
  text(delta: string): void {
    if (delta === '') return;
    const turn = this.#turn();
    if (turn.dropping) return;
    turn.transcript += delta;
    this.#sink.text(delta, turn.id, false);
  }

  /**
   * Barge-in, from the server (`interrupted`) or local (interrupt()). Returns whether a turn in progress
   * was cut; an interrupt may also arrive after turnComplete while playout still runs [G2].
   */
  interrupt(): boolean {
    const turn = this.#current;
    if (turn === undefined || turn.dropping) return false;
    turn.dropping = true;
    return true;
  }

  /** `turnComplete`: the turn is over, whether it produced output or not (tool calls, empty turns). */
  complete(): void {
    const turn = this.#current ?? this.#turn();
    this.#current = undefined;
    if (turn.transcript !== '' && !turn.dropping) this.#sink.text(turn.transcript, turn.id, true);
    this.#sink.turnEnd(turn.id, turn.dropping ? 'cancelled' : 'completed');
  }

  /** The connection went away mid-turn: the rest of this turn will never arrive. */
  abandon(): void {
    const turn = this.#current;
    if (turn === undefined) return;
    this.#current = undefined;
    this.#sink.turnEnd(turn.id, 'incomplete');
  }

  #turn(): Turn {
    this.#current ??= { id: `${this.#prefix}-${++this.#seq}`, dropping: false, transcript: '' };
    return this.#current;
  }
}
