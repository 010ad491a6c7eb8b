/**
 * Which agent reply the binary audio frames belong to. Deepgram's audio frames carry no id [D1][D3], so the
 * reply is inferred from the control messages around them, in the recorded order [D2]:
 * `ConversationText{assistant}` (one or more sentences) and `AgentStartedSpeaking` open a reply, binary audio
 * follows, `AgentAudioDone` closes it. An injected agent message has no AgentStartedSpeaking [D2].
 *
 * After a barge-in (UserStartedSpeaking, or a local interrupt) the rest of the interrupted reply is dropped
 * until the next reply opens: the server stops generating by itself and there is no cancel message [D3], so
 * frames already in flight must not reach the caller. A small state machine without I/O (STYLE.md §4).
 */

export interface ReplyIds {
  readonly responseId: string;
  readonly itemId: string;
}

export class DeepgramReplies {
  readonly #newId: () => string;
  #active: ReplyIds | undefined;
  /** A reply was cut off: its late audio is dropped until a new reply opens (or AgentAudioDone). */
  #dropping = false;

  constructor(newId: () => string) {
    this.#newId = newId;
  }

  get active(): ReplyIds | undefined {
    return this.#active;
  }

  /** ConversationText{assistant} or AgentStartedSpeaking: opens a reply unless one is in progress. */
  open(): ReplyIds {
    this.#dropping = false;
    this.#active ??= this.#start();
    return this.#active;
  }

  /** A binary audio frame: the reply it belongs to, or undefined when it is late audio of a cut-off reply. */
  audio(): ReplyIds | undefined {
    if (this.#dropping) return undefined;
    this.#active ??= this.#start();
    return this.#active;
  }

  /** AgentAudioDone: the reply that completed, if one was playing. Ends dropping of a cut-off reply. */
  done(): ReplyIds | undefined {
    this.#dropping = false;
    const active = this.#active;
    this.#active = undefined;
    return active;
  }

  /** Barge-in: the reply cut off (report it cancelled), or undefined when nothing was playing. */
  cut(): ReplyIds | undefined {
    const active = this.#active;
    this.#active = undefined;
    if (active !== undefined) this.#dropping = true;
    return active;
  }

  /** The connection went away: the reply that will never finish, if any. */
  abandon(): ReplyIds | undefined {
    const active = this.#active;
    this.#active = undefined;
    this.#dropping = false;
    return active;
  }

  #start(): ReplyIds {
    const id = this.#newId();
    return { responseId: `dg_resp_${id}`, itemId: `dg_item_${id}` };
  }
}
