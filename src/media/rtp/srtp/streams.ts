/**
 * Per-SSRC cryptographic state (RFC 3711 §3.2.3: one crypto context per SSRC under a master key), in a
 * small table with least-recently-used eviction. Only authenticated packets create or advance an entry, so
 * nobody without the key can fill or churn it.
 */
import { ReplayWindow } from './replay.js';

/** One stream's receive (or send) state. Numeric fields live in typed arrays: see replay.ts. */
export class StreamState {
  readonly #u32 = new Uint32Array(3);
  readonly window = new ReplayWindow();
  /** Set when the state was created but no packet was committed yet. */
  fresh = true;

  get ssrc(): number {
    return this.#u32[0] ?? 0;
  }
  set ssrc(v: number) {
    this.#u32[0] = v;
  }
  /** Rollover counter (SRTP) or the last SRTCP index sent. */
  get roc(): number {
    return this.#u32[1] ?? 0;
  }
  set roc(v: number) {
    this.#u32[1] = v;
  }
  /** Highest sequence number seen (s_l, RFC 3711 §3.3.1). */
  get sl(): number {
    return this.#u32[2] ?? 0;
  }
  set sl(v: number) {
    this.#u32[2] = v;
  }
}

/** Streams kept per direction: the caller's SSRC, and the few a codec change or a restart may add. */
const MAX_STREAMS = 8;

export class StreamTable {
  readonly #streams: StreamState[] = [];

  /** The state for `ssrc`, or undefined when this SSRC was never authenticated. */
  find(ssrc: number): StreamState | undefined {
    const streams = this.#streams;
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i];
      if (s !== undefined && s.ssrc === ssrc) return s;
    }
    return undefined;
  }

  /** Creates the state for `ssrc` (call only for an authenticated packet), evicting the oldest. */
  create(ssrc: number): StreamState {
    if (this.#streams.length >= MAX_STREAMS) this.#streams.shift();
    const state = new StreamState();
    state.ssrc = ssrc;
    this.#streams.push(state);
    return state;
  }
}
