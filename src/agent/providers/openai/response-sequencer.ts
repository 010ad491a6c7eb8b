/**
 * Serialises `response.create`: at most one response may be in progress in an OpenAI Realtime
 * conversation, so requests made while one is active (or while our create is still unanswered) wait for
 * `response.done` [S1][S5-seq]. A create that loses the race against a server-VAD response is rejected with
 * `conversation_already_has_active_response`; it is put back at the head of the queue and retried after the
 * response that won (the agents-js collision rule [S5-seq]). Pure state; the send is an injected callback.
 */

/** The optional `response` object of response.create (instructions override for greetings, …). */
export interface ResponseParams {
  readonly instructions?: string;
}

export class ResponseSequencer {
  readonly #send: (params: ResponseParams | undefined) => void;
  readonly #queue: (ResponseParams | undefined)[] = [];
  /** Our create is on the wire and no response.created has answered it yet. */
  #inFlight = false;
  /** The params of the last create sent, until its response is done (needed to retry a collision). */
  #lastSent: { params: ResponseParams | undefined } | undefined;
  #activeId: string | undefined;

  constructor(send: (params: ResponseParams | undefined) => void) {
    this.#send = send;
  }

  /** The response in progress (ours or one the server started by itself). */
  get activeResponseId(): string | undefined {
    return this.#activeId;
  }

  /** A create was sent and not answered yet. */
  get createInFlight(): boolean {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** Ask for a response; sent now if nothing is in progress, else after the current response.done. */
  request(params?: ResponseParams): void {
    this.#queue.push(params);
    this.#pump();
  }

  /** response.created: whoever asked for it, a response is now in progress. */
  onCreated(responseId: string): void {
    this.#activeId = responseId;
    this.#inFlight = false;
  }

  /** response.done (any status): the conversation is free again. */
  onDone(responseId: string): void {
    if (this.#activeId === responseId || this.#activeId === undefined) {
      this.#activeId = undefined;
      this.#lastSent = undefined;
    }
    this.#pump();
  }

  /** Our create was refused because a response is already active: retry it after that one. */
  onCollision(): void {
    this.#inFlight = false;
    if (this.#lastSent !== undefined) this.#queue.unshift(this.#lastSent.params);
    this.#lastSent = undefined;
    this.#pump();
  }

  /** The conversation is gone (reconnect): forget the response in progress, keep nothing queued. */
  reset(): void {
    this.#queue.length = 0;
    this.#inFlight = false;
    this.#lastSent = undefined;
    this.#activeId = undefined;
  }

  #pump(): void {
    if (this.#inFlight || this.#activeId !== undefined || this.#queue.length === 0) return;
    const params = this.#queue.shift();
    this.#inFlight = true;
    this.#lastSent = { params };
    this.#send(params);
  }
}
