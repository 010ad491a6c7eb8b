/**
 * Keyword fallback for providers without tools: phrases in the assistant's final transcript that mean
 * "hang up" or "transfer". Matching is case-insensitive on word boundaries, after normalising punctuation.
 */
export class KeywordWatcher {
  readonly #hangup: RegExp[];
  readonly #transfer: RegExp[];

  constructor(hangupPhrases: readonly string[], transferPhrases: readonly string[]) {
    this.#hangup = hangupPhrases.map(KeywordWatcher.#pattern);
    this.#transfer = transferPhrases.map(KeywordWatcher.#pattern);
  }

  static #pattern(phrase: string): RegExp {
    const words = phrase
      .toLowerCase()
      .split(/\s+/)
      .filter((w) => w !== '')
      .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    return new RegExp(`\\b${words.join('\\W+')}\\b`, 'i');
  }

  match(text: string): 'hangup' | 'transfer' | undefined {
    if (this.#transfer.some((r) => r.test(text))) return 'transfer';
    if (this.#hangup.some((r) => r.test(text))) return 'hangup';
    return undefined;
  }
}
