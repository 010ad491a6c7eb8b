import type { ConversationTurn } from '../agent/agent.js';

/** Turns kept for a reconnected provider session; older ones are dropped first. */
const MAX_TURNS = 24;
/** Longest context text handed to a new session (a realtime model needs the gist, not the whole call). */
const MAX_CONTEXT_CHARS = 2000;

interface Turn {
  readonly who: 'Caller' | 'You';
  text: string;
}

/**
 * What was said on the call, from the provider's own transcripts, so a session that replaces a failed one
 * can continue the conversation (issue 11, "crash-proof calls"). Bounded; it holds transcripts, so it is
 * never logged, only sent to the provider that produced them.
 */
export class ConversationLog {
  readonly #turns: Turn[] = [];
  /** The assistant reply still arriving, by response id: what the caller was hearing when it broke. */
  #partial: { responseId: string; text: string } | undefined;
  #version = 0;

  /** A final transcript of the caller's speech. */
  caller(text: string, final: boolean): void {
    if (final && text.trim() !== '') this.#push('Caller', text.trim());
  }

  /** Assistant transcript: deltas accumulate for the reply in progress; a final text closes it. */
  agent(text: string, final: boolean, responseId: string | undefined): void {
    const id = responseId ?? '';
    if (!final) {
      if (this.#partial?.responseId !== id) this.#closePartial();
      this.#partial ??= { responseId: id, text: '' };
      this.#version++;
      this.#partial.text = (this.#partial.text + text).slice(-MAX_CONTEXT_CHARS);
      return;
    }
    if (this.#partial?.responseId === id) this.#partial = undefined;
    if (text.trim() !== '') this.#push('You', text.trim());
  }

  /** The reply in progress was cut off: what of it had arrived (undefined when nothing had). */
  cut(): string | undefined {
    const text = this.#partial?.text.trim();
    this.#partial = undefined;
    if (text === undefined || text === '') return undefined;
    this.#push('You', `${text} …`);
    return text;
  }

  /** The finished turns so far, oldest first, for a new session's AgentOptions.history (issues 14/15). */
  history(): ConversationTurn[] {
    return this.#turns.map((t) => ({ role: t.who === 'Caller' ? 'user' : 'assistant', text: t.text }));
  }

  /** Changes with every transcript recorded (a rotation checks that nothing was said meanwhile). */
  get version(): number {
    return this.#version;
  }

  /** The conversation so far as plain lines, newest kept when it is too long; '' when nothing was said. */
  transcript(): string {
    const lines: string[] = [];
    let chars = 0;
    for (let i = this.#turns.length - 1; i >= 0; i--) {
      const t = this.#turns[i]!;
      const line = `${t.who}: ${t.text}`;
      if (chars + line.length > MAX_CONTEXT_CHARS) break;
      lines.unshift(line);
      chars += line.length + 1;
    }
    return lines.join('\n');
  }

  #closePartial(): void {
    if (this.#partial !== undefined && this.#partial.text.trim() !== '')
      this.#push('You', this.#partial.text.trim());
    this.#partial = undefined;
  }

  #push(who: Turn['who'], text: string): void {
    this.#version++;
    const last = this.#turns[this.#turns.length - 1];
    if (last?.who === who) last.text = `${last.text} ${text}`.slice(-MAX_CONTEXT_CHARS);
    else this.#turns.push({ who, text: text.slice(-MAX_CONTEXT_CHARS) });
    if (this.#turns.length > MAX_TURNS) this.#turns.shift();
  }
}

/**
 * The text that asks a replacement session to carry on (issue 11): what happened, what was said, and where
 * the reply broke off. `cutOff` is the part of the reply the caller had been hearing.
 */
export function continuationPrompt(transcript: string, cutOff: string | undefined): string {
  const parts = [
    'The connection dropped for a moment and is back. Continue the conversation where you left off: do not ' +
      'greet the caller again and do not repeat what they already heard.',
  ];
  if (transcript !== '') parts.push(`Conversation so far:\n${transcript}`);
  if (cutOff !== undefined) parts.push(`You were cut off while saying: "${cutOff}"`);
  return parts.join('\n\n');
}
