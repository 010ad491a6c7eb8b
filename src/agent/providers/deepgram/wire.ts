/** Small pure helpers for the Deepgram wire, and the KeepAlive pacer. */
import type { AudioFormat } from '../../events.js';

/** G.711 is 8 bytes per ms; linear16 is rate/500. */
export function bytesPerMs(format: AudioFormat): number {
  return format.encoding === 'pcm16' ? format.sampleRateHz / 500 : 8;
}

/**
 * "Send KeepAlive every 8 s while not streaming audio" [D3]: `sent()` is called for every frame that goes
 * out; the pacer calls `send` once the socket has been quiet for `periodMs`. It checks at a quarter of the
 * period, so the longest quiet stretch is 1.25 periods (10 s at 8 s, inside the ~15 s idle timeout [D3]).
 */
export class KeepAlivePacer {
  readonly #periodMs: number;
  readonly #now: () => number;
  #lastSentAtMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(periodMs: number, now: () => number) {
    this.#periodMs = periodMs;
    this.#now = now;
    this.#lastSentAtMs = now();
  }

  sent(): void {
    this.#lastSentAtMs = this.#now();
  }

  start(send: () => boolean): void {
    this.stop();
    this.#timer = setInterval(
      () => {
        if (this.#now() - this.#lastSentAtMs < this.#periodMs) return;
        if (send()) this.#lastSentAtMs = this.#now();
      },
      Math.max(10, Math.floor(this.#periodMs / 4)),
    );
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
