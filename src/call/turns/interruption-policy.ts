/**
 * Server-owned interruptions (issue 14, DESIGN.md §2 "barge-in" and §4): the provider's own auto-interrupt
 * is off, and this state machine decides from the provider's VAD events (and transcripts, where they exist)
 * what the caller's speech during a reply means.
 *
 *   speech starts during playout ─► candidate: PAUSE playout (the queue is kept)
 *     ├─ speech lasts ≥ max(min_speech_ms, backchannel_max_ms), or a transcript has ≥ min_words words
 *     │    ─► confirmed: flush + agent.interrupt(playedMs), exactly like the provider-mode barge-in
 *     │       (BargeInController does that step), and the caller's turn is answered
 *     └─ speech ends shorter (a cough, a noise, a "mhm"), or nothing confirms it within
 *        false_interruption_timeout_ms ─► false interruption: RESUME where it paused; no truncate, no
 *        cancel, and the utterance gets no answer (Agent.userTurn({ respond: false })).
 *
 * The first ignore_after_agent_start_ms of a reply do not make candidates (the caller finishing a word as
 * the agent starts); speech still going on when that window closes becomes one then.
 *
 * Speech duration is judged in media time, never by wall-clock timers (a loaded machine delays events, not
 * audio): while the caller speaks, the provider only reports the end after its silence window (OpenAI
 * server_vad silence_duration_ms, `speechEndLagMs`), so a candidate is confirmed once threshold + that lag of
 * caller audio has been pushed to the provider since the onset was reported (audioPushed, counted by the
 * session's uplink) without a speech end. The count starts at the audio pushed when the onset event arrives,
 * which is at or after the provider's audio_start_ms: it never confirms early, and it needs no shared clock
 * with the provider's buffer (a new session after a rotation starts its own). Playout is paused all that
 * time, so the caller hears nothing of the agent; only the truncate waits. When the end is reported, the
 * utterance's length is the provider's audio_end_ms − audio_start_ms. false_interruption_timeout_ms counts
 * caller audio too (a wall-clock backstop only for a silent uplink); only the ignore window, measured from
 * the reply's first audio, is wall-clock, and it never confirms anything.
 *
 * In `provider` and `off` modes it is a pass-through to the BargeInController (today's behaviour).
 * Side effects are injected (STYLE.md §4); timers are injectable so tests run on a fake clock.
 */
import type { InterruptionMode } from '../../agent/agent.js';
import type { BargeInProfile } from '../../routing/dialplan.js';
import {
  BargeInController,
  type BargeInDecision,
  type BargeInOptions,
  type PlayoutControl,
} from '../barge-in.js';

/** The playout as the policy needs it: barge-in's flush and counters, plus pause/resume (PlayoutStream). */
export interface PausablePlayout extends PlayoutControl {
  pause(): void;
  resume(): void;
}

/** How long after the real end of speech a provider reports it by default (OpenAI: silence_duration_ms). */
export const DEFAULT_SPEECH_END_LAG_MS = 500;

/**
 * false_interruption_timeout_ms runs in media time (caller audio pushed); a silent uplink (no RTP) resumes
 * after this many times it in wall time instead, so a paused reply never stays paused.
 */
const WALL_BACKSTOP_FACTOR = 2;

export type InterruptionSettings = Pick<
  BargeInProfile,
  | 'min_speech_ms'
  | 'min_words'
  | 'ignore_after_agent_start_ms'
  | 'false_interruption_timeout_ms'
  | 'backchannel_max_ms'
>;

export interface InterruptionPolicyOptions extends Omit<BargeInOptions, 'playout' | 'enabled'> {
  readonly mode: InterruptionMode;
  readonly settings: InterruptionSettings;
  readonly playout: PausablePlayout;
  /** Server mode: the verdict on each caller utterance (Agent.userTurn). */
  readonly userTurn?: (verdict: { respond: boolean }) => void;
  /** Counts false interruptions (resumed) in /metrics. */
  readonly falseInterruption?: () => void;
  readonly speechEndLagMs?: number;
  readonly now?: () => number;
  readonly setTimer?: (callback: () => void, delayMs: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
}

type State =
  /** The caller is not speaking. */
  | 'idle'
  /** Speaking while nothing plays: an ordinary turn. */
  | 'turn'
  /** Speaking inside the ignore window of a reply. */
  | 'ignoring'
  /** A candidate interruption: playout paused. */
  | 'paused'
  /** The candidate's speech ended too long to be a backchannel; waiting for words (min_words). */
  | 'awaiting-words'
  /** Confirmed: the reply was flushed and interrupted. */
  | 'interrupted';

const countWords = (text: string): number => text.split(/\s+/).filter((w) => /\p{L}|\p{N}/u.test(w)).length;

export class InterruptionPolicy {
  readonly #o: InterruptionPolicyOptions;
  readonly #bargeIn: BargeInController;
  readonly #now: () => number;
  readonly #setTimer: (callback: () => void, delayMs: number) => unknown;
  readonly #clearTimer: (handle: unknown) => void;
  /** Speech this long confirms: never shorter than a backchannel. */
  readonly #thresholdMs: number;
  readonly #lagMs: number;
  #state: State = 'idle';
  /** The last reply whose audio arrived, and when its first audio came (the ignore window). */
  #reply: { id: string; startedAt: number } | undefined;
  /** Its audio is still arriving (between its first delta and its turn end). */
  #replyActive = false;
  #speech: { pushedAtMs: number; audioStartMs: number | undefined; words: number } | undefined;
  /** Caller audio pushed to the provider so far (ms, media time), and the count that confirms a candidate. */
  #pushedMs = 0;
  #confirmAtMs = Infinity;
  /** …and the count at which false_interruption_timeout_ms has passed since the pause. */
  #timeoutAtMs = Infinity;
  /** Speech ended while paused with its verdict pending (awaiting-words). */
  #verdictPending = false;
  #timeoutTimer: unknown;
  #ignoreTimer: unknown;
  #falseInterruptions = 0;

  constructor(options: InterruptionPolicyOptions) {
    this.#o = options;
    this.#bargeIn = new BargeInController({
      enabled: options.mode !== 'off',
      playout: options.playout,
      interrupt: options.interrupt,
      ...(options.onDecision === undefined ? {} : { onDecision: options.onDecision }),
    });
    this.#now = options.now ?? Date.now;
    this.#setTimer = options.setTimer ?? ((cb, ms) => setTimeout(cb, ms));
    this.#clearTimer = options.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
    const s = options.settings;
    this.#thresholdMs = Math.max(s.min_speech_ms, s.backchannel_max_ms);
    this.#lagMs = options.speechEndLagMs ?? DEFAULT_SPEECH_END_LAG_MS;
  }

  get #server(): boolean {
    return this.#o.mode === 'server';
  }

  /** Confirmed barge-ins (flush + interrupt). */
  get bargeIns(): number {
    return this.#bargeIn.bargeIns;
  }

  get falseInterruptions(): number {
    return this.#falseInterruptions;
  }

  /** For every assistant audio chunk; false means drop it (a cancelled response's late delta). */
  acceptAudio(responseId: string): boolean {
    if (!this.#bargeIn.acceptAudio(responseId)) return false;
    if (this.#reply?.id !== responseId) {
      this.#reply = { id: responseId, startedAt: this.#now() };
      this.#replyActive = true;
      // A reply starting while the caller speaks (an ordinary turn) would talk over them: a candidate.
      if (this.#server && this.#state === 'turn') this.#candidate();
    }
    return true;
  }

  turnEnded(responseId: string): void {
    if (this.#reply?.id === responseId) this.#replyActive = false;
    this.#bargeIn.turnEnded(responseId);
  }

  userSpeechStarted(audioStartMs?: number): void {
    if (!this.#server) {
      this.#bargeIn.userSpeechStarted();
      return;
    }
    if (this.#state !== 'idle' && this.#state !== 'awaiting-words') return;
    if (this.#state === 'awaiting-words') {
      // The caller spoke again before the words came: one utterance continued, still a candidate.
      this.#verdictPending = false;
      this.#state = 'paused';
      this.#confirmAtMs = this.#pushedMs; // confirmed with its next audio
      return;
    }
    this.#speech = { pushedAtMs: this.#pushedMs, audioStartMs, words: 0 };
    if (!this.#playing()) {
      this.#state = 'turn';
      return;
    }
    const sinceReplyMs = this.#reply === undefined ? Infinity : this.#now() - this.#reply.startedAt;
    const ignoreMs = this.#o.settings.ignore_after_agent_start_ms;
    if (sinceReplyMs < ignoreMs) {
      this.#state = 'ignoring';
      this.#ignoreTimer = this.#setTimer(() => {
        this.#ignoreTimer = undefined;
        if (this.#state === 'ignoring') this.#candidate();
      }, ignoreMs - sinceReplyMs);
      return;
    }
    this.#candidate();
  }

  userSpeechEnded(audioEndMs?: number): void {
    if (!this.#server) return;
    const speech = this.#speech;
    const state = this.#state;
    if (state === 'idle' || state === 'awaiting-words' || speech === undefined) return;
    if (state === 'turn' || state === 'interrupted') return this.#finishTurn(true);
    if (state === 'ignoring') {
      this.#clear();
      return this.#finishTurn(false);
    }
    // paused: how long was it, in media time where the provider says?
    const durationMs =
      audioEndMs !== undefined && speech.audioStartMs !== undefined
        ? audioEndMs - speech.audioStartMs
        : this.#pushedMs - speech.pushedAtMs - this.#lagMs;
    const s = this.#o.settings;
    if (durationMs >= this.#thresholdMs) {
      this.#confirm();
      return this.#finishTurn(true);
    }
    if (durationMs > s.backchannel_max_ms && s.min_words !== undefined && speech.words < s.min_words) {
      // Long enough to be words: a transcript may still confirm it, until the false-interruption timeout.
      this.#state = 'awaiting-words';
      this.#verdictPending = true;
      this.#confirmAtMs = Infinity;
      return;
    }
    this.#resume();
    this.#finishTurn(false);
  }

  userTranscript(text: string, final: boolean): void {
    const min = this.#o.settings.min_words;
    const speech = this.#speech;
    if (!this.#server || min === undefined || speech === undefined) return;
    speech.words = Math.max(speech.words, countWords(text));
    if (this.#state !== 'paused' && this.#state !== 'awaiting-words') return;
    if (speech.words >= min) {
      const pending = this.#verdictPending;
      this.#confirm();
      if (pending) this.#finishTurn(true);
    } else if (final && this.#state === 'awaiting-words') {
      this.#resume();
      this.#finishTurn(false);
    }
  }

  /**
   * The server cuts the agent off (AMD voicemail drop at the beep): a pending candidate is dropped and the
   * reply flushed like a barge-in (not counted as one); playout is unpaused for what the agent says next.
   */
  cut(): BargeInDecision {
    this.#clear();
    this.#state = 'idle';
    this.#verdictPending = false;
    this.#speech = undefined;
    const decision = this.#bargeIn.cut();
    this.#o.playout.resume();
    return decision;
  }

  /**
   * Caller audio of `ms` (media time) went to the provider: the uplink's clock. Hot path, allocates nothing.
   * A candidate whose speech has gone on for threshold + the end-of-speech lag of it is confirmed here.
   */
  audioPushed(ms: number): void {
    this.#pushedMs += ms;
    if (this.#pushedMs >= this.#confirmAtMs) {
      this.#confirmAtMs = Infinity;
      if (this.#state === 'paused') this.#confirm();
    }
    if (this.#pushedMs >= this.#timeoutAtMs) this.#timedOut();
  }

  /** The call ended: no timer may fire afterwards. */
  close(): void {
    this.#clear();
    this.#state = 'idle';
  }

  #playing(): boolean {
    return this.#o.playout.queuedMs > 0 || this.#replyActive;
  }

  #candidate(): void {
    const speech = this.#speech;
    if (speech === undefined) return;
    this.#state = 'paused';
    this.#o.playout.pause();
    this.#decision('paused');
    this.#confirmAtMs = speech.pushedAtMs + this.#thresholdMs + this.#lagMs;
    const timeoutMs = this.#o.settings.false_interruption_timeout_ms;
    this.#timeoutAtMs = this.#pushedMs + timeoutMs;
    // The wall-clock backstop only matters when the caller's audio stopped coming (no media time passes).
    this.#timeoutTimer = this.#setTimer(() => {
      this.#timeoutTimer = undefined;
      this.#timedOut();
    }, WALL_BACKSTOP_FACTOR * timeoutMs);
  }

  /** Nothing confirmed the candidate within false_interruption_timeout_ms: resume. */
  #timedOut(): void {
    if (this.#state !== 'paused' && this.#state !== 'awaiting-words') return;
    const pending = this.#verdictPending;
    this.#resume();
    if (pending) this.#finishTurn(false);
    // Still speaking (a timeout shorter than the confirmation): the rest of it is not an interruption.
    else this.#state = 'ignoring';
  }

  /** The confirm step is today's barge-in: flush, block the reply's late audio, interrupt(playedMs). */
  #confirm(): void {
    this.#clear();
    this.#state = 'interrupted';
    this.#verdictPending = false;
    this.#replyActive = false;
    const decision = this.#bargeIn.userSpeechStarted();
    // Nothing was left to flush (the reply ended while paused): the pause is lifted all the same.
    if (decision.action !== 'interrupted') this.#o.playout.resume();
  }

  #resume(): void {
    this.#clear();
    this.#state = 'idle';
    this.#verdictPending = false;
    this.#o.playout.resume();
    this.#falseInterruptions++;
    this.#o.falseInterruption?.();
    this.#decision('resumed');
  }

  #finishTurn(respond: boolean): void {
    this.#state = 'idle';
    this.#speech = undefined;
    this.#o.userTurn?.({ respond });
  }

  #decision(action: 'paused' | 'resumed'): void {
    const current = this.#o.playout.currentItem;
    const decision: BargeInDecision = {
      action,
      playedMs: current?.sentMs ?? 0,
      flushedMs: 0,
      ...(current === undefined ? {} : { itemId: current.itemId, responseId: current.responseId }),
    };
    this.#o.onDecision?.(decision);
  }

  #clear(): void {
    for (const t of [this.#timeoutTimer, this.#ignoreTimer]) if (t !== undefined) this.#clearTimer(t);
    this.#timeoutTimer = this.#ignoreTimer = undefined;
    this.#confirmAtMs = this.#timeoutAtMs = Infinity;
  }
}
