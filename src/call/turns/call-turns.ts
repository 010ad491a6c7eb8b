/**
 * The turn-taking extras of one call (issue 14), built from the session's deps so session.ts only forwards
 * events: fillers while a tool runs (filler.ts), reprompts of a silent caller (reprompt.ts) and the turn
 * latency figures (turn-latency.ts).
 */
import type { Agent } from '../../agent/agent.js';
import type { CallSessionDeps } from '../session-types.js';
import { DEFAULT_GREET_AFTER_MS, FirstWords } from './first-words.js';
import { ToolFiller } from './filler.js';
import { DEFAULT_REPROMPT_TEXT, Reprompter } from './reprompt.js';
import { TurnLatency, type TurnLatencySummary } from './turn-latency.js';

export interface CallTurnsHooks {
  /** Nothing plays, no tool runs, the call is active: a silence may be counted. */
  readonly quiet: () => boolean;
  /** The call's agent now (the supervisor may replace it). */
  readonly agent: () => Agent | undefined;
}

export class CallTurns {
  readonly #d: CallSessionDeps;
  readonly #timeline: (kind: string, data: Record<string, unknown>) => void;
  readonly #filler: ToolFiller;
  readonly #latency: TurnLatency;
  readonly #reprompt: Reprompter | undefined;
  readonly #frameMs: number;
  readonly #firstWords = new FirstWords();
  readonly #onItem = (item: { readonly responseId: string }): void =>
    this.#latency.itemStarted(item.responseId);

  constructor(deps: CallSessionDeps, hooks: CallTurnsHooks) {
    this.#d = deps;
    const now = deps.now ?? Date.now;
    const timeline = (kind: string, data: Record<string, unknown>): void => deps.timeline?.event(kind, data);
    this.#timeline = timeline;
    const { tools, limits } = deps.profile;
    const { metrics, media } = deps;
    this.#frameMs = media.ptimeMs;
    const frames = deps.promptFrames;
    this.#filler = new ToolFiller({
      afterMs: frames === undefined ? undefined : tools.filler_after_ms,
      clip: tools.filler?.audio,
      hold: tools.hold_audio,
      tools: new Set(tools.webhooks.map((w) => w.name)),
      playout: media.playout,
      frames: (path) => {
        try {
          return frames?.(path) ?? [];
        } catch (err) {
          // A missing or unreadable clip: the call goes on without it (logged, never thrown from a timer).
          deps.logger.warn({ err, clip: path }, 'filler clip could not be read');
          return [];
        }
      },
      onPlay: (kind, clip) => {
        metrics.fillers.inc({ kind });
        timeline('filler', { kind, clip });
      },
      onStop: (why) => timeline('filler', { kind: 'stop', why }),
    });
    this.#latency = new TurnLatency({
      now,
      inboundDelayMs: () => media.jitterDelayMs ?? 0,
      observe: (t) => {
        metrics.turnLatency.observe(t.totalMs / 1000);
        metrics.turnShare.observe({ direction: 'inbound' }, t.inboundMs / 1000);
        metrics.turnShare.observe({ direction: 'outbound' }, t.outboundMs / 1000);
      },
    });
    const max = limits.reprompts ?? 0;
    if (max > 0 && limits.reprompt_after_s !== undefined) {
      this.#reprompt = new Reprompter({
        afterMs: limits.reprompt_after_s * 1000,
        max,
        text: limits.reprompt_text ?? DEFAULT_REPROMPT_TEXT,
        now,
        quiet: hooks.quiet,
        send: (text) =>
          void hooks
            .agent()
            ?.sendText(text)
            .catch((err: unknown) => deps.logger.warn({ err }, 'reprompt note failed')),
        onReprompt: (n) => {
          metrics.reprompts.inc();
          timeline('reprompt', { n });
        },
      });
    }
  }

  /** The call is active: the silence clock starts, the playout reports first frames. */
  start(): void {
    this.#reprompt?.start();
    this.#d.media.playout.on('itemStarted', this.#onItem);
  }

  /** A new agent (session) was wired: its audio clock starts at zero. */
  agentWired(): void {
    this.#latency.resetAudioClock();
  }

  /** One caller frame pushed to the agent. */
  callerFrame(): void {
    this.#latency.pushed(this.#frameMs);
  }

  speechStarted(): void {
    this.#firstWords.started();
    this.#reprompt?.callerSpoke();
    this.#latency.speechStarted();
  }

  speechEnded(audioEndMs: number | undefined): void {
    this.#firstWords.ended();
    this.#reprompt?.callerSpoke();
    this.#latency.speechEnded(audioEndMs);
  }

  /** Agent audio accepted for playout (per chunk). */
  agentAudio(responseId: string): void {
    this.#filler.agentAudio();
    this.#latency.agentAudio(responseId);
    this.#reprompt?.activity();
  }

  toolCall(name: string): void {
    this.#filler.toolStarted(name);
  }

  toolDone(): void {
    this.#filler.toolFinished();
  }

  /**
   * Before an outbound call's greeting: the callee's first words, or `outbound.greet_after_ms` of silence
   * (timeline 'greet.wait'). Inbound calls greet at once.
   */
  async beforeGreeting(): Promise<void> {
    if (this.#d.direction !== 'outbound') return;
    const silenceMs = this.#d.profile.outbound?.greet_after_ms ?? DEFAULT_GREET_AFTER_MS;
    const how = await this.#firstWords.wait(silenceMs);
    this.#timeline('greet.wait', { after: how });
  }

  /** A playout item is a filler/hold clip (a barge-in has nothing to truncate at the provider). */
  ownsItem(itemId: string | undefined): boolean {
    return ToolFiller.owns(itemId);
  }

  close(): void {
    this.#filler.close();
    this.#reprompt?.stop();
    this.#d.media.playout.off('itemStarted', this.#onItem);
  }

  /** For the call-ended log. */
  summary(): { turnLatency: TurnLatencySummary; fillers: number; reprompts: number } {
    return {
      turnLatency: this.#latency.summary(),
      fillers: this.#filler.played,
      reprompts: this.#reprompt?.reprompts ?? 0,
    };
  }
}
