/**
 * A byte-bounded FIFO of outgoing audio messages. When a push would exceed the bound, the oldest messages
 * are dropped first: on a live call fresh audio matters more than stale audio, and the provider's VAD
 * recovers from a gap better than from a growing delay. Messages are kept by reference, not copied.
 */
export class AudioQueue {
  readonly #maxBytes: number;
  #items: Array<string | Buffer> = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  #droppedBytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = Math.max(0, maxBytes);
  }

  get bytes(): number {
    return this.#bytes;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Total bytes ever dropped by overflow (clear() does not count as dropping). */
  get droppedBytes(): number {
    return this.#droppedBytes;
  }

  /** Appends `data`; returns how many bytes were dropped to make room (0 normally). */
  push(data: string | Buffer): number {
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (size > this.#maxBytes) {
      // Larger than the whole queue: keeping it would mean dropping everything else and still overflowing.
      this.#droppedBytes += size;
      return size;
    }
    let dropped = 0;
    while (this.#bytes + size > this.#maxBytes && this.length > 0) dropped += this.#dropHead();
    this.#items.push(data);
    this.#sizes.push(size);
    this.#bytes += size;
    this.#droppedBytes += dropped;
    return dropped;
  }

  shift(): string | Buffer | undefined {
    if (this.length === 0) return undefined;
    const data = this.#items[this.#head];
    this.#dropHead();
    return data;
  }

  clear(): void {
    this.#items = [];
    this.#sizes = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  #dropHead(): number {
    const size = this.#sizes[this.#head] ?? 0;
    this.#items[this.#head] = '';
    this.#head++;
    this.#bytes -= size;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#sizes.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#sizes.splice(0, this.#head);
      this.#head = 0;
    }
    return size;
  }
}
