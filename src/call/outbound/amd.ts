/**
 * Answering-machine detection for outbound calls (issue 18): classifies the first seconds of the callee's
 * audio as `human`, `machine`, `screening` (a call-screening assistant asking who is calling) or `unknown`,
 * and reports fax and SIT tones. It only listens: the agent greets at once and the decision, when it comes,
 * may end or redirect the call (amd-policy.ts). Everything is in media time (samples processed), so decisions
 * are reproducible and exact in the RTP clock.
 *
 * Cues, in the order they win:
 * 1. Tones (tone-detector.ts): a beep ⇒ machine (and the end of its greeting); CNG/CED ⇒ fax; SIT ⇒ sit.
 *    Tonal frames never count as speech, so a fax burst is not a short "Hello?".
 * 2. Transcript keywords, when the provider emits user transcripts: "record your name and reason",
 *    "screening", "state your name" ⇒ screening; "leave a message", "not available", "after the tone",
 *    "record your name" ⇒ machine.
 * 3. Energy cadence (the classic AMD of Asterisk app_amd): speech running on with no pause ≥
 *    `greetingSilenceMs` for `machineSpeechMs` (2.5 s) ⇒ machine; a greeting shorter than that followed by
 *    `greetingSilenceMs` of silence ⇒ human; no speech for `initialSilenceMs` ⇒ unknown.
 * With transcripts expected, a cadence "machine" waits up to `transcriptWaitMs` for a transcript, since a
 * screening prompt is long speech too; a transcript (or a beep) ends the wait at once.
 *
 * After a machine decision it keeps listening for the end of the greeting (`greeting.end`: the beep, or
 * `endSilenceMs` of silence after speech, or `maxGreetingMs`), which is when a voicemail message should start.
 */
import { rmsDbfs } from '../../media/dsp/level.js';
import { ToneDetector, type ToneEvent } from '../../media/dsp/tone-detector.js';

export type AmdResult = 'human' | 'machine' | 'screening' | 'unknown' | 'fax' | 'sit';
export type AmdCue = 'cadence' | 'keyword' | 'beep' | 'tone' | 'timeout';

export interface AmdDecision {
  readonly result: AmdResult;
  readonly cue: AmdCue;
  /** Media time of the decision since the detector started (the callee answered). */
  readonly decisionMs: number;
  /** Media time of the callee's first speech, if any. */
  readonly speechStartMs?: number;
  /** Length of the greeting so far (first speech to last speech). */
  readonly greetingMs?: number;
}

export interface GreetingEnd {
  readonly cause: 'beep' | 'silence' | 'timeout';
  readonly atMs: number;
  readonly beep?: { readonly frequencyHz: number; readonly startMs: number; readonly durationMs: number };
}

export interface AmdOptions {
  readonly sampleRateHz: 8000 | 16000;
  readonly onDecision: (decision: AmdDecision) => void;
  readonly onGreetingEnd?: (end: GreetingEnd) => void;
  /** The provider emits user transcripts: hold a cadence "machine" for keyword cues. */
  readonly expectTranscripts?: boolean;
  readonly speechDbfs?: number;
  readonly initialSilenceMs?: number;
  readonly machineSpeechMs?: number;
  readonly greetingSilenceMs?: number;
  /** With transcripts: how long after the greeting ends a held "machine" waits for the transcript. */
  readonly transcriptWaitMs?: number;
  /** With transcripts: the longest a held "machine" waits at all (a long greeting still decides). */
  readonly maxHoldMs?: number;
  readonly endSilenceMs?: number;
  readonly maxGreetingMs?: number;
}

const SCREENING_CUES: readonly RegExp[] = [
  /record your name and (the )?reason/,
  /\bscreen(ing|ed)?\b/,
  /\b(state|say) your name\b/,
  /\bwho(’|')?s calling\b|\bwho is calling\b/,
  /\bwhy (you are|you're|you’re) calling\b/,
];
const MACHINE_CUES: readonly RegExp[] = [
  /leave (me |us )?(a |your )?(message|name|number)/,
  /\b(not|un)\s?available\b/,
  /after the (tone|beep)/,
  /record your (name|message)/,
  /\bvoice ?mail\b|\bmailbox\b/,
  /(can ?not|can't|can’t|unable to) (come to|take|answer) (the phone|your call)/,
];

/** T.30 CNG: 1100 Hz ± 38 Hz, 0.5 s on; a second burst follows 3.5 s after the first one's onset. */
function cngLike(frequencyHz: number, durationMs: number): boolean {
  return Math.abs(frequencyHz - 1100) <= 38 && durationMs >= 350 && durationMs <= 800;
}
const CNG_HOLD_MS = 4600;

/** Keyword cue of a transcript: screening wins over machine ("record your name and reason"). */
export function keywordCue(text: string): 'screening' | 'machine' | undefined {
  const t = text.toLowerCase();
  if (SCREENING_CUES.some((r) => r.test(t))) return 'screening';
  if (MACHINE_CUES.some((r) => r.test(t))) return 'machine';
  return undefined;
}

export class AnsweringMachineDetector {
  readonly #o: Required<Omit<AmdOptions, 'onGreetingEnd'>> & Pick<AmdOptions, 'onGreetingEnd'>;
  readonly #tones: ToneDetector;
  readonly #rate: number;
  #samples = 0;
  #decided: AmdDecision | undefined;
  #greetingEnded = false;
  #closed = false;
  #speechStartMs = -1;
  #lastSpeechMs = -1;
  #activeRunMs = 0;
  #heldMachineAtMs = -1;
  #lastToneMs = -1;
  /** A CNG-like beep with no speech before it: wait for the second CNG burst before calling it a beep. */
  #cngHoldUntilMs = -1;

  constructor(options: AmdOptions) {
    this.#o = {
      expectTranscripts: false,
      speechDbfs: -40,
      initialSilenceMs: 5000,
      machineSpeechMs: 2500,
      greetingSilenceMs: 700,
      transcriptWaitMs: 1500,
      maxHoldMs: 8000,
      endSilenceMs: 1000,
      maxGreetingMs: 30_000,
      ...options,
    };
    this.#rate = options.sampleRateHz;
    this.#tones = new ToneDetector({ sampleRateHz: options.sampleRateHz, onTone: (e) => this.#onTone(e) });
  }

  get decision(): AmdDecision | undefined {
    return this.#decided;
  }

  /** True while there is anything left to listen for. */
  get listening(): boolean {
    return !this.#closed && (this.#decided === undefined || this.#waitingForGreetingEnd());
  }

  #nowMs(): number {
    return (this.#samples * 1000) / this.#rate;
  }

  /** Feeds one decoded frame of the callee's audio (any length; 10–30 ms frames expected). */
  process(pcm: Int16Array): void {
    if (!this.listening || pcm.length === 0) return;
    this.#tones.process(pcm);
    this.#samples += pcm.length;
    if (!this.listening) return;
    const now = this.#nowMs();
    const frameMs = (pcm.length * 1000) / this.#rate;
    const tonal = this.#tones.toneActive;
    if (tonal) this.#lastToneMs = now;
    const active = rmsDbfs(pcm) >= this.#o.speechDbfs && !tonal;
    // Two consecutive active frames (≥ 40 ms at 20 ms ptime) before speech counts, so a click is not a word.
    this.#activeRunMs = active ? this.#activeRunMs + frameMs : 0;
    if (this.#activeRunMs >= 2 * Math.min(frameMs, 20)) {
      if (this.#speechStartMs < 0) this.#speechStartMs = now - this.#activeRunMs;
      this.#lastSpeechMs = now;
    }
    if (this.#decided !== undefined) {
      this.#checkGreetingEnd(now);
      return;
    }
    this.#cadence(now);
  }

  #cadence(now: number): void {
    const o = this.#o;
    if (this.#cngHoldUntilMs >= 0) {
      if (now >= this.#cngHoldUntilMs) this.#decide('machine', 'beep', now);
      return;
    }
    if (this.#speechStartMs < 0) {
      if (now >= o.initialSilenceMs) this.#decide('unknown', 'timeout', now);
      return;
    }
    const silentMs = now - this.#lastSpeechMs;
    if (this.#heldMachineAtMs >= 0) {
      const greetingOver = silentMs >= o.greetingSilenceMs + o.transcriptWaitMs;
      if (greetingOver || now - this.#heldMachineAtMs >= o.maxHoldMs) this.#decide('machine', 'cadence', now);
      return;
    }
    const spanMs = this.#lastSpeechMs - this.#speechStartMs;
    if (silentMs >= o.greetingSilenceMs) {
      // A short greeting then silence: someone waiting for an answer.
      if (spanMs < o.machineSpeechMs) this.#decide('human', 'cadence', now);
      return;
    }
    if (spanMs >= o.machineSpeechMs) {
      if (o.expectTranscripts) this.#heldMachineAtMs = now;
      else this.#decide('machine', 'cadence', now);
    }
  }

  /** A user transcript from the provider (interim or final); keyword cues decide at once. */
  transcript(text: string): void {
    if (this.#closed) return;
    const cue = keywordCue(text);
    const now = this.#nowMs();
    if (this.#decided === undefined) {
      if (cue !== undefined) this.#decide(cue, 'keyword', now);
      else if (this.#heldMachineAtMs >= 0) this.#decide('machine', 'cadence', now);
    }
  }

  #onTone(e: ToneEvent): void {
    const now = this.#nowMs();
    if (e.kind === 'beep') {
      if (this.#decided === undefined && this.#speechStartMs < 0 && cngLike(e.frequencyHz, e.durationMs)) {
        // Fax CNG's first burst looks like a beep; without a greeting before it, wait for the second burst.
        if (this.#cngHoldUntilMs < 0) this.#cngHoldUntilMs = e.startMs + CNG_HOLD_MS;
        return;
      }
      if (this.#decided === undefined) this.#decide('machine', 'beep', now);
      if (this.#decided?.result === 'machine' && !this.#greetingEnded) {
        const { frequencyHz, startMs, durationMs } = e;
        this.#endGreeting({
          cause: 'beep',
          atMs: startMs + durationMs,
          beep: { frequencyHz, startMs, durationMs },
        });
      }
      return;
    }
    // Fax and SIT override anything but a finished decision on the greeting's end.
    if (this.#decided === undefined || this.#decided.result !== e.kind) {
      this.#decided = undefined;
      this.#decide(e.kind === 'sit' ? 'sit' : 'fax', 'tone', now);
    }
  }

  #waitingForGreetingEnd(): boolean {
    return this.#decided?.result === 'machine' && !this.#greetingEnded;
  }

  #checkGreetingEnd(now: number): void {
    if (!this.#waitingForGreetingEnd()) return;
    if (now >= this.#o.maxGreetingMs) {
      this.#endGreeting({ cause: 'timeout', atMs: now });
      return;
    }
    // Silence after the greeting, not counting tone time: a beep just after the words is still awaited.
    const lastSoundMs = Math.max(this.#lastSpeechMs, this.#lastToneMs);
    if (!this.#tones.toneActive && now - lastSoundMs >= this.#o.endSilenceMs) {
      this.#endGreeting({ cause: 'silence', atMs: now });
    }
  }

  #endGreeting(end: GreetingEnd): void {
    this.#greetingEnded = true;
    this.#o.onGreetingEnd?.(end);
  }

  #decide(result: AmdResult, cue: AmdCue, now: number): void {
    if (this.#decided !== undefined) return;
    const decision: AmdDecision = {
      result,
      cue,
      decisionMs: Math.round(now),
      ...(this.#speechStartMs >= 0 && {
        speechStartMs: Math.round(this.#speechStartMs),
        greetingMs: Math.round(this.#lastSpeechMs - this.#speechStartMs),
      }),
    };
    this.#decided = decision;
    this.#o.onDecision(decision);
  }

  close(): void {
    this.#closed = true;
  }
}
