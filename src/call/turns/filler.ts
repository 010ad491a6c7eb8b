/**
 * No dead air while a tool runs (issue 14): a webhook that has not returned within `tools.filler_after_ms`
 * gets the profile's filler clip on the playout, and a long one (`tools.hold_audio`) hold audio looped from
 * then on (one `filler_after_ms` after the filler) until the result. Both stop the moment the agent's next
 * audio arrives (the tool result's reply): their frames are dropped from the queue by response id. Clips
 * are queued per tool call, never per packet.
 */
import type { CallPlayout } from '../media-leg.js';

/** Filler and hold clips are queued under response ids with this prefix (never the agent's items). */
const PREFIX = 'filler-';

export interface ToolFillerDeps {
  /** `tools.filler_after_ms`; undefined: off. */
  readonly afterMs: number | undefined;
  /** `tools.filler.audio`: a short WAV played once. */
  readonly clip: string | undefined;
  /** `tools.hold_audio`: a WAV looped while the tool still runs. */
  readonly hold: string | undefined;
  /** Tool names that get fillers (webhooks: call-control tools wait for the playout to drain). */
  readonly tools: ReadonlySet<string>;
  readonly playout: CallPlayout;
  /** The clip's encoded frames, one ptime each (PromptPlayer.frames for the leg's codec). */
  readonly frames: (path: string) => readonly Buffer[];
  /** A clip was queued (timeline + metric). */
  readonly onPlay: (kind: 'filler' | 'hold', clip: string) => void;
  /** The clips stopped: the agent's reply started (or the call ended). */
  readonly onStop: (why: 'reply' | 'closed') => void;
}

export class ToolFiller {
  readonly #d: ToolFillerDeps;
  #timer: NodeJS.Timeout | undefined;
  /** The tool call waiting for its result. */
  #pending = false;
  /** Response id of the clips queued for the current tool call; undefined when none is. */
  #active: string | undefined;
  #seq = 0;
  #count = 0;

  constructor(deps: ToolFillerDeps) {
    this.#d = deps;
  }

  /** Clips queued on this call. */
  get played(): number {
    return this.#count;
  }

  /** Whether a playout item is one of ours (not the agent's: nothing to truncate at the provider). */
  static owns(itemId: string | undefined): boolean {
    return itemId !== undefined && itemId.startsWith(PREFIX);
  }

  toolStarted(name: string): void {
    const { afterMs, clip, hold } = this.#d;
    if (afterMs === undefined || (clip === undefined && hold === undefined) || !this.#d.tools.has(name))
      return;
    this.#pending = true;
    this.#arm(afterMs, () => this.#fire());
  }

  /** The tool returned: no new clip; what is queued plays on until the reply's audio arrives. */
  toolFinished(): void {
    this.#pending = false;
    clearTimeout(this.#timer);
  }

  /** Agent audio is about to be queued (one check per chunk, no allocation). */
  agentAudio(): void {
    if (this.#active === undefined) return;
    this.#stop('reply');
  }

  close(): void {
    this.#pending = false;
    clearTimeout(this.#timer);
    if (this.#active !== undefined) this.#stop('closed');
  }

  #fire(): void {
    if (!this.#pending) return;
    const { clip, hold, afterMs = 0 } = this.#d;
    if (clip !== undefined) {
      this.#queue('filler', clip);
      if (hold !== undefined) this.#arm(afterMs, () => this.#loopHold(hold));
    } else if (hold !== undefined) this.#loopHold(hold);
  }

  /** Hold audio once the filler has played, again each time the queue drains, while the tool runs. */
  #loopHold(hold: string): void {
    if (!this.#pending) return;
    const { playout } = this.#d;
    // Nothing queued and nothing to queue (an unreadable clip, a full queue): stop, never spin.
    if (playout.queuedMs === 0 && !this.#queue('hold', hold)) return;
    void playout.whenDrained().then(() => this.#loopHold(hold));
  }

  /** Queues the clip; false when nothing could be queued. */
  #queue(kind: 'filler' | 'hold', path: string): boolean {
    const responseId = (this.#active ??= `${PREFIX}${++this.#seq}`);
    const itemId = `${responseId}-${kind}-${this.#count}`;
    const { playout } = this.#d;
    const frames = this.#d.frames(path);
    if (frames.length === 0) return false;
    // Refused frames (a barge-in blocked this response, the per-call cap) are not counted as played.
    const n = Math.min(frames.length, playout.roomFrames);
    let queued = 0;
    for (let i = 0; i < n; i++) if (playout.enqueue(frames[i]!, itemId, responseId)) queued++;
    if (queued === 0) return false;
    this.#count++;
    this.#d.onPlay(kind, path);
    return true;
  }

  #stop(why: 'reply' | 'closed'): void {
    const responseId = this.#active;
    if (responseId === undefined) return;
    this.#active = undefined;
    this.#pending = false;
    clearTimeout(this.#timer);
    this.#d.playout.blockResponse(responseId);
    this.#d.onStop(why);
  }

  #arm(ms: number, f: () => void): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(f, ms);
    this.#timer.unref();
  }
}
