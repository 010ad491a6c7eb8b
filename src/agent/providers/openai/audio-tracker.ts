/**
 * Counts assistant audio received per item, remembers which responses were discarded by a barge-in so
 * their late deltas are dropped by response id, and computes the truncate point
 * `audio_end_ms = floor(min(playedMs, receivedMs))` (providers.md §1.6; STYLE.md §3). Pure state.
 */

interface ItemAudio {
  readonly responseId: string;
  bytes: number;
  truncated: boolean;
}

/** How many items (and dropped response ids) are remembered; older ones can no longer be interrupted. */
const MAX_REMEMBERED = 64;

export class AssistantAudioTracker {
  readonly #bytesPerMs: number;
  readonly #items = new Map<string, ItemAudio>();
  readonly #dropped = new Set<string>();
  #currentItemId: string | undefined;

  constructor(bytesPerMs: number) {
    this.#bytesPerMs = bytesPerMs;
  }

  /** The item whose audio arrived last: the one the caller is hearing (or about to). */
  get currentItemId(): string | undefined {
    return this.#currentItemId;
  }

  /** Count a delta. Returns false when the delta belongs to a dropped response and must be discarded. */
  accept(responseId: string, itemId: string, bytes: number): boolean {
    if (this.#dropped.has(responseId)) return false;
    let item = this.#items.get(itemId);
    if (item === undefined) {
      item = { responseId, bytes: 0, truncated: false };
      this.#items.set(itemId, item);
      trim(this.#items);
    }
    item.bytes += bytes;
    this.#currentItemId = itemId;
    return true;
  }

  isDropped(responseId: string): boolean {
    return this.#dropped.has(responseId);
  }

  /** Discard every later delta of this response. */
  drop(responseId: string): void {
    this.#dropped.add(responseId);
    trim(this.#dropped);
  }

  receivedMs(itemId: string): number {
    const item = this.#items.get(itemId);
    return item === undefined ? 0 : item.bytes / this.#bytesPerMs;
  }

  responseOf(itemId: string): string | undefined {
    return this.#items.get(itemId)?.responseId;
  }

  /**
   * The truncate for a barge-in on `itemId`, or undefined when there is nothing to truncate (unknown item,
   * already truncated, or fully played by a finished response: a needless truncate changes model
   * behaviour [S9]). `generating`: the item's response is still producing audio.
   */
  truncatePoint(itemId: string, playedMs: number, generating: boolean): { audioEndMs: number } | undefined {
    const item = this.#items.get(itemId);
    if (item === undefined || item.truncated) return undefined;
    const receivedMs = item.bytes / this.#bytesPerMs;
    const played = Number.isFinite(playedMs) ? Math.max(0, playedMs) : 0;
    if (played >= receivedMs && !generating) return undefined;
    item.truncated = true;
    return { audioEndMs: Math.floor(Math.min(played, receivedMs)) };
  }

  reset(): void {
    this.#items.clear();
    this.#dropped.clear();
    this.#currentItemId = undefined;
  }
}

/** Keep insertion-ordered collections bounded by evicting the oldest entries. */
function trim(c: Map<string, unknown> | Set<string>): void {
  while (c.size > MAX_REMEMBERED) {
    const first = c.keys().next();
    if (first.done === true) return;
    c.delete(first.value);
  }
}
