/**
 * Turn latency of one call (issue 14): the caller's end of speech, in media time, to the first frame of the
 * agent's answer sent on RTP, and Switchboard's own shares of it. The provider reports the end of speech as
 * ms of caller audio it had received (`audio_end_ms`); we know how many ms we had pushed, so the frame that
 * ended the speech was pushed `pushed − audio_end_ms` ms before the event, and it had waited the jitter
 * buffer's depth since it arrived. Inbound share: that wait (arrival → pushed to the provider). Outbound
 * share: the answer's first audio from the provider → its first frame sent on RTP. Per frame this does one
 * addition; per turn it keeps three numbers.
 */

export interface TurnLatencyDeps {
  readonly now: () => number;
  /** How long a caller frame waits between arriving and being pushed (the jitter buffer's depth), ms. */
  readonly inboundDelayMs: () => number;
  /** One measured turn, ms. */
  readonly observe: (turn: TurnLatencySample) => void;
}

export interface TurnLatencySample {
  /** Caller's last speech frame arrived → first agent frame sent on RTP. */
  readonly totalMs: number;
  /** Last caller frame arrived → pushed to the provider. */
  readonly inboundMs: number;
  /** First agent audio from the provider → first frame sent on RTP. */
  readonly outboundMs: number;
}

export interface TurnLatencySummary {
  readonly turns: number;
  readonly p50Ms?: number;
  readonly p95Ms?: number;
  readonly inboundP50Ms?: number;
  readonly inboundP95Ms?: number;
  readonly outboundP50Ms?: number;
  readonly outboundP95Ms?: number;
}

export class TurnLatency {
  readonly #d: TurnLatencyDeps;
  readonly #turns: TurnLatencySample[] = [];
  /** ms of caller audio pushed to the provider on this session. */
  #pushedMs = 0;
  /** Wall time the caller's last speech frame arrived; undefined when no turn is being measured. */
  #endArrivedAt: number | undefined;
  #inboundMs = 0;
  /** The answer being waited for: its first provider audio. */
  #responseId: string | undefined;
  #audioAt = 0;

  constructor(deps: TurnLatencyDeps) {
    this.#d = deps;
  }

  /** Caller audio pushed to the provider (one frame). */
  pushed(ms: number): void {
    this.#pushedMs += ms;
  }

  /** A new provider session counts audio from zero. */
  resetAudioClock(): void {
    this.#pushedMs = 0;
  }

  /** The provider's end of speech (`audio_end_ms` when it reports one). */
  speechEnded(audioEndMs: number | undefined): void {
    const now = this.#d.now();
    const lagMs = audioEndMs === undefined ? 0 : Math.min(Math.max(this.#pushedMs - audioEndMs, 0), 5000);
    this.#inboundMs = this.#d.inboundDelayMs();
    this.#endArrivedAt = now - lagMs - this.#inboundMs;
    this.#responseId = undefined;
  }

  /** The caller spoke again before an answer was heard: that turn is not measured. */
  speechStarted(): void {
    this.#endArrivedAt = undefined;
    this.#responseId = undefined;
  }

  /** Agent audio arrived from the provider (per chunk: a comparison unless it is the first). */
  agentAudio(responseId: string): void {
    if (this.#endArrivedAt === undefined || this.#responseId !== undefined) return;
    this.#responseId = responseId;
    this.#audioAt = this.#d.now();
  }

  /** The playout sent the first frame of an item (PlayoutStream 'itemStarted'). */
  itemStarted(responseId: string): void {
    const endAt = this.#endArrivedAt;
    if (endAt === undefined || responseId !== this.#responseId) return;
    const now = this.#d.now();
    const turn = { totalMs: now - endAt, inboundMs: this.#inboundMs, outboundMs: now - this.#audioAt };
    this.#endArrivedAt = undefined;
    this.#responseId = undefined;
    this.#turns.push(turn);
    this.#d.observe(turn);
  }

  summary(): TurnLatencySummary {
    const n = this.#turns.length;
    if (n === 0) return { turns: 0 };
    const q = (key: keyof TurnLatencySample, p: number): number => {
      const sorted = this.#turns.map((t) => t[key]).sort((a, b) => a - b);
      return Math.round(sorted[Math.min(n - 1, Math.ceil(p * n) - 1)] ?? 0);
    };
    return {
      turns: n,
      p50Ms: q('totalMs', 0.5),
      p95Ms: q('totalMs', 0.95),
      inboundP50Ms: q('inboundMs', 0.5),
      inboundP95Ms: q('inboundMs', 0.95),
      outboundP50Ms: q('outboundMs', 0.5),
      outboundP95Ms: q('outboundMs', 0.95),
    };
  }
}
