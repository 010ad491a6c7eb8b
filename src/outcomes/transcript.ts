/**
 * The call's transcript, both sides, per turn (issue 16). Caller turns come from the provider's speech
 * events (start/end) and its input transcription; agent turns from the final assistant text, timed by what
 * was actually sent on RTP. A reply cut by barge-in is marked `interrupted` with the ms the caller heard.
 * Pure bookkeeping: the caller of these methods supplies the call-clock ms (answer = 0).
 */

export interface TranscriptTurn {
  readonly role: 'caller' | 'agent';
  readonly text: string;
  /** ms on the call's clock (answer = 0). */
  readonly startMs: number;
  readonly endMs: number;
  /** An agent reply the caller cut off (barge-in). */
  readonly interrupted?: true;
  /** With `interrupted`: ms of the reply the caller heard. */
  readonly heardMs?: number;
}

interface CallerTurn {
  readonly itemId: string | undefined;
  startMs: number;
  endMs: number | undefined;
  text: string;
}

interface AgentTurn {
  readonly responseId: string;
  text: string;
  startMs: number | undefined;
  endMs: number | undefined;
  /** Time the text arrived: the turn's time when no audio of it was ever sent. */
  textAtMs: number | undefined;
  heardMs: number | undefined;
}

/** A caller turn whose text has not come yet is matched by item id, else it is the latest one. */
export class TranscriptBuilder {
  readonly #caller: CallerTurn[] = [];
  readonly #agent = new Map<string, AgentTurn>();

  callerSpeechStarted(atMs: number, itemId: string | undefined): void {
    this.#caller.push({ itemId, startMs: atMs, endMs: undefined, text: '' });
  }

  callerSpeechEnded(atMs: number, itemId: string | undefined): void {
    const turn = this.#callerTurn(itemId, (t) => t.endMs === undefined);
    if (turn !== undefined) turn.endMs = Math.max(turn.startMs, atMs);
  }

  /** A final input transcription. */
  callerText(text: string, atMs: number, itemId: string | undefined): void {
    const turn = this.#callerTurn(itemId, (t) => t.text === '');
    if (turn === undefined) {
      this.#caller.push({ itemId, startMs: atMs, endMs: atMs, text });
      return;
    }
    turn.text = turn.text === '' ? text : `${turn.text} ${text}`;
  }

  /** A frame of this reply was sent on RTP at `atMs`, `frameMs` long. */
  agentAudio(responseId: string, atMs: number, frameMs: number): void {
    const turn = this.#agentTurn(responseId);
    turn.startMs ??= atMs;
    turn.endMs = atMs + frameMs;
  }

  /** The reply's final text. */
  agentText(responseId: string, text: string, atMs: number): void {
    const turn = this.#agentTurn(responseId);
    turn.text = turn.text === '' ? text : `${turn.text} ${text}`;
    turn.textAtMs ??= atMs;
  }

  /** Barge-in stopped this reply after the caller heard `heardMs` of it. */
  agentInterrupted(responseId: string, heardMs: number): void {
    this.#agentTurn(responseId).heardMs = heardMs;
  }

  /** Every turn with words, in order of start. */
  turns(): TranscriptTurn[] {
    const out: TranscriptTurn[] = [];
    for (const t of this.#caller) {
      if (t.text === '') continue;
      out.push({ role: 'caller', text: t.text, startMs: t.startMs, endMs: t.endMs ?? t.startMs });
    }
    for (const t of this.#agent.values()) {
      const startMs = t.startMs ?? t.textAtMs;
      if (t.text === '' || startMs === undefined) continue;
      out.push({
        role: 'agent',
        text: t.text,
        startMs,
        endMs: t.endMs ?? startMs,
        ...(t.heardMs === undefined ? {} : { interrupted: true as const, heardMs: t.heardMs }),
      });
    }
    // Stable: a caller turn and a reply starting in the same ms keep caller first.
    return out.sort((a, b) => a.startMs - b.startMs);
  }

  #callerTurn(itemId: string | undefined, open: (t: CallerTurn) => boolean): CallerTurn | undefined {
    if (itemId !== undefined) {
      const byId = this.#caller.find((t) => t.itemId === itemId);
      if (byId !== undefined) return byId;
    }
    for (let i = this.#caller.length - 1; i >= 0; i--) {
      const t = this.#caller[i];
      if (t !== undefined && open(t)) return t;
    }
    return undefined;
  }

  #agentTurn(responseId: string): AgentTurn {
    let turn = this.#agent.get(responseId);
    if (turn === undefined) {
      turn = {
        responseId,
        text: '',
        startMs: undefined,
        endMs: undefined,
        textAtMs: undefined,
        heardMs: undefined,
      };
      this.#agent.set(responseId, turn);
    }
    return turn;
  }
}
