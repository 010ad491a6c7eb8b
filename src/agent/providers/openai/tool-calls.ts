/**
 * Function-call bookkeeping for one conversation: a call is announced by both
 * `response.function_call_arguments.done` and `response.done` (dedupe by call_id), and after the results
 * of every call of a response are in, exactly one `response.create` follows (providers.md §1.7). Pure state.
 */

export interface ParsedToolCall {
  readonly callId: string;
  readonly name: string;
  readonly args: Record<string, unknown>;
  /** Set when `arguments` was not a JSON object (the call is still reported, with empty args). */
  readonly argsError?: 'not-json' | 'not-object';
}

export class ToolCallTracker {
  readonly #seen = new Set<string>();
  readonly #open = new Set<string>();

  /** A call seen on the wire; undefined when it was already reported. */
  announce(callId: string, name: string, argsJson: string): ParsedToolCall | undefined {
    if (this.#seen.has(callId)) return undefined;
    this.#seen.add(callId);
    this.#open.add(callId);
    try {
      const parsed: unknown = JSON.parse(argsJson === '' ? '{}' : argsJson);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        return { callId, name, args: parsed as Record<string, unknown> };
      }
      return { callId, name, args: {}, argsError: 'not-object' };
    } catch {
      return { callId, name, args: {}, argsError: 'not-json' };
    }
  }

  /** The call exists in the current conversation. */
  knows(callId: string): boolean {
    return this.#seen.has(callId);
  }

  /** A result was sent; true when no announced call is waiting any more (time for one response.create). */
  resolve(callId: string): boolean {
    this.#open.delete(callId);
    return this.#open.size === 0;
  }

  reset(): void {
    this.#seen.clear();
    this.#open.clear();
  }
}
