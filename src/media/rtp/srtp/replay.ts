/**
 * Receiver-side packet index bookkeeping of RFC 3711 §3.3: the rollover counter estimate (§3.3.1,
 * Appendix A) and the replay list as a sliding window (§3.3.2), 128 packets wide (the RFC's minimum is 64).
 *
 * The window is a bitmap in a Uint32Array and the highest index a Float64Array slot: indices reach 2^48 and
 * V8 would box a number that large in a fresh HeapNumber each time it is stored in an object field.
 */

/** Width of the replay window in packets. */
export const REPLAY_WINDOW_PACKETS = 128;

const WORDS = REPLAY_WINDOW_PACKETS / 32;

/**
 * RFC 3711 Appendix A: the ROC value v the sender most likely used for sequence number `seq`, given the
 * receiver's ROC and highest sequence number `sl`. May return roc - 1 (a late packet from before a wrap)
 * or roc + 1 (the first packets after one).
 */
export function estimateRoc(roc: number, sl: number, seq: number): number {
  if (sl < 0x8000) return seq - sl > 0x8000 ? roc - 1 : roc;
  return sl - 0x8000 > seq ? roc + 1 : roc;
}

/** A sliding replay window over 48-bit (SRTP) or 31-bit (SRTCP) indices. */
export class ReplayWindow {
  readonly #bits = new Uint32Array(WORDS);
  /** [0]: the highest index accepted, -1 before the first. */
  readonly #top = new Float64Array([-1]);

  /** Whether `index` is new: above the window, or inside it and not yet seen (§3.3.2). */
  check(index: number): boolean {
    const top = this.#top[0] ?? -1;
    if (index > top) return true;
    const delta = top - index;
    if (delta >= REPLAY_WINDOW_PACKETS) return false;
    return ((this.#bits[delta >>> 5] ?? 0) & (1 << (delta & 31))) === 0;
  }

  /** Records an authenticated `index` (only after check() said it was new). */
  accept(index: number): void {
    const top = this.#top[0] ?? -1;
    const bits = this.#bits;
    if (index > top) {
      const shift = top < 0 ? REPLAY_WINDOW_PACKETS : index - top;
      this.#shift(shift);
      this.#top[0] = index;
      bits[0] = (bits[0] ?? 0) | 1;
      return;
    }
    const delta = top - index;
    bits[delta >>> 5] = (bits[delta >>> 5] ?? 0) | (1 << (delta & 31));
  }

  /** Moves every bit `n` positions towards "older" (bit i means index top - i was seen). */
  #shift(n: number): void {
    const bits = this.#bits;
    if (n >= REPLAY_WINDOW_PACKETS) {
      bits.fill(0);
      return;
    }
    const words = n >>> 5;
    const rest = n & 31;
    for (let i = WORDS - 1; i >= 0; i--) {
      const from = i - words;
      const hi = from >= 0 ? (bits[from] ?? 0) : 0;
      const lo = from - 1 >= 0 ? (bits[from - 1] ?? 0) : 0;
      bits[i] = rest === 0 ? hi : ((hi << rest) | (lo >>> (32 - rest))) >>> 0;
    }
  }
}
