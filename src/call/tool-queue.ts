import type { Logger } from '../observability/logger.js';
import type { AgentProfile } from '../routing/dialplan.js';
import { KeywordWatcher } from './keywords.js';
import type { ToolCall, ToolDispatcher, ToolOutcome } from './tools/dispatcher.js';

/**
 * A call's tool calls, run one at a time and in order (a transfer must not race an end_call), plus the
 * keyword fallback for providers without tools: a phrase in the assistant's final transcript becomes the
 * end_call or transfer_call it stands for.
 */
export class ToolQueue {
  readonly outcomes: ToolOutcome[] = [];
  readonly #tools: ToolDispatcher;
  readonly #profile: AgentProfile;
  readonly #log: Logger;
  readonly #ended: () => boolean;
  readonly #onOutcome: (outcome: ToolOutcome) => void;
  readonly #keywords: KeywordWatcher | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #pending = 0;
  /** The tool call being handled now (end_call and transfers end the call before they return). */
  #running: ToolCall | undefined;

  constructor(o: {
    tools: ToolDispatcher;
    profile: AgentProfile;
    logger: Logger;
    ended: () => boolean;
    onOutcome: (outcome: ToolOutcome) => void;
  }) {
    this.#tools = o.tools;
    this.#profile = o.profile;
    this.#log = o.logger;
    this.#ended = o.ended;
    this.#onOutcome = o.onOutcome;
    const kw = o.profile.keywords;
    if (kw !== undefined && (kw.hangup.length > 0 || kw.transfer.length > 0))
      this.#keywords = new KeywordWatcher(kw.hangup, kw.transfer);
  }

  /** True while a tool call is queued or running: the provider is waiting for us, not stalled. */
  get busy(): boolean {
    return this.#pending > 0;
  }

  queue(call: ToolCall): Promise<unknown> {
    this.#pending++;
    this.#chain = this.#chain.then(async () => {
      if (this.#ended()) return;
      this.#running = call;
      const outcome = await this.#tools.handle(call).finally(() => (this.#running = undefined));
      this.outcomes.push(outcome);
      this.#onOutcome(outcome);
    });
    this.#chain = this.#chain
      .catch((err: unknown) => this.#log.error({ err }, 'tool call failed'))
      .finally(() => this.#pending--);
    return this.#chain;
  }

  /**
   * For the call-ended log: `name:ok|failed` per finished tool call, and `name:in-progress` for the one
   * still running — end_call (and a transfer) end the call from inside the tool, before its outcome exists.
   */
  summary(): string[] {
    const done = this.outcomes.map((t) => `${t.name}:${t.ok ? 'ok' : 'failed'}`);
    return this.#running === undefined ? done : [...done, `${this.#running.name}:in-progress`];
  }

  /** A final assistant transcript: queues the tool a configured keyword stands for. */
  assistantSaid(text: string): void {
    const action = this.#keywords?.match(text);
    if (action === 'hangup')
      void this.queue({ callId: 'keyword', name: 'end_call', args: { reason: 'keyword' } });
    if (action === 'transfer') {
      const p = this.#profile;
      const target = p.fallback?.transfer_to ?? Object.keys(p.tools.transfer_call?.targets ?? {})[0];
      if (target !== undefined)
        void this.queue({ callId: 'keyword', name: 'transfer_call', args: { destination: target } });
    }
  }
}
