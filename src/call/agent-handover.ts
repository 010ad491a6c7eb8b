/**
 * Moving a live call to a new provider session without hanging up (issues 14 and 15): one mechanism for two
 * occasions.
 *
 * - **Failover** (issue 15): the current provider failed for good (its own reconnect and the supervisor's
 *   replacement did not bring audio back). The call moves to the next `failover` target of the profile: an
 *   optional bridge clip plays while the new session starts with the conversation so far
 *   (AgentOptions.history), then the supervisor asks it to continue. Only after the last target fails does
 *   the supervisor's fallback prompt run.
 * - **Rotation** (issue 14): before the provider's session cap (`limits.session_max_s`, else a per-provider
 *   default), and when the provider announces the end of the session (OpenAI `session_expired`), a new
 *   session of the same target is opened with the history while the old one still hears the caller; the
 *   uplink switches to it between turns (no reply playing, caller not speaking, no tool running) and the old
 *   one is closed. The caller hears no gap: nothing was playing.
 *
 * Gemini's own ~10-minute connection limit is handled inside its adapter (goAway → transparent session
 * resumption); the rotation here covers the session cap itself.
 */
import type { Agent, ConversationTurn } from '../agent/agent.js';
import type { Logger } from '../observability/logger.js';
import type { AgentProfile, FailoverTarget } from '../routing/dialplan.js';
import type { ConversationLog } from './conversation-log.js';
import type { AgentRequest } from './session-types.js';

/** Provider session caps (providers.md: OpenAI 60 min [S12], Gemini audio session 15 min [G6], Qwen 120 min). */
const DEFAULT_SESSION_CAP_S: Readonly<Record<string, number>> = {
  openai: 3600,
  'azure-openai': 3600,
  gemini: 15 * 60,
  'qwen-omni': 7200,
};
/** Rotate 10 % before the cap, at least 5 s and at most 2 min before it, so a turn in progress can finish. */
const MIN_ROTATE_MARGIN_MS = 5000;
const MAX_ROTATE_MARGIN_MS = 120_000;
/** While a rotation is due, how often to look for a quiet moment between turns. */
const QUIET_POLL_MS = 100;
/** A reply expected after the caller stopped speaking counts as pending this long at most. */
const REPLY_PENDING_MAX_MS = 5000;
/** Longest tool result handed to a new session as a note. */
const MAX_NOTE_CHARS = 2000;
/** A rotation attempt that failed (the new session did not start) is retried after this long. */
const RETRY_MS = 2000;

/** What the handover needs from the agent supervisor, which owns the current agent. */
export interface HandoverHost {
  readonly now: () => number;
  readonly agent: () => Agent | undefined;
  /** The conversation so far (finished turns), and a version that changes whenever anything is said. */
  readonly history: () => ConversationTurn[];
  readonly historyVersion: () => number;
  /** Close the current agent (abandoning its reply); resolves with its provider slug. */
  readonly dropCurrent: () => Promise<string | undefined>;
  /** Create, start and adopt an agent for `request` as the current one; false when it failed. */
  readonly attach: (request: AgentRequest) => Promise<boolean>;
  /** Create and start an agent beside the current one (not adopted); undefined when it failed. */
  readonly startBeside: (request: AgentRequest) => Promise<Agent | undefined>;
  /** Make `agent` the current one (the uplink follows at once). */
  readonly adopt: (agent: Agent) => void;
  /** The new agent is current after a failover: restart the incident clock and ask it to continue. */
  readonly failedOver: () => void;
  /** The agent is replying, a tool runs, the call is on hold or ending: not a moment to switch. */
  readonly busy: () => boolean;
  readonly playBridge: (() => Promise<void>) | undefined;
  readonly timeline: (kind: string, data: Record<string, unknown>) => void;
}

export class AgentHandover {
  readonly #h: HandoverHost;
  readonly #log: Logger;
  readonly #profile: AgentProfile;
  readonly #targets: readonly FailoverTarget[];
  /** Index of the next failover target. */
  #next = 0;
  /** The current target: undefined while the profile's own provider serves the call. */
  #current: FailoverTarget | undefined;
  readonly #used: string[];
  #failing: Promise<boolean> | undefined;
  #rotations = 0;
  #rotating = false;
  #capTimer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #callerSpeaking = false;
  #replyPendingSince: number | undefined;
  #closed = false;
  /** Tool calls in flight, by call id, with the agent that made them. */
  readonly #calls = new Map<string, { readonly agent: Agent; readonly name: string }>();

  constructor(profile: AgentProfile, logger: Logger, host: HandoverHost) {
    this.#profile = profile;
    this.#log = logger;
    this.#h = host;
    this.#targets = profile.failover ?? [];
    this.#used = [profile.provider];
  }

  /** The providers that served this call, in order (for the call summary). */
  get providersUsed(): readonly string[] {
    return this.#used;
  }

  /** A failover target is left to try (or an attempt is under way). */
  get targetsLeft(): boolean {
    return this.#failing !== undefined || this.#next < this.#targets.length;
  }

  /** For the 'call ended' summary. */
  summary(): { providers: readonly string[]; rotations: number } {
    return { providers: this.#used, rotations: this.#rotations };
  }

  /** Follows the caller's speech and the replies of an agent (while `live()`), to find quiet moments. */
  watch(agent: Agent, live: () => boolean): void {
    agent.on('user.speech.started', () => live() && this.callerSpeech(true));
    agent.on('user.speech.ended', () => live() && this.callerSpeech(false));
    agent.on('assistant.turn.end', () => live() && this.replyEnded());
    agent.on('tool.call', ({ callId, name }) => live() && this.#calls.set(callId, { agent, name }));
  }

  /**
   * A tool result for the current agent: as a tool result when it made the call, else (the session that made
   * it is gone: failover, rotation, and the new one does not know the call id) as a note it can act on.
   */
  async toolResult(callId: string, result: unknown): Promise<void> {
    const call = this.#calls.get(callId);
    this.#calls.delete(callId);
    const agent = this.#h.agent();
    if (agent === undefined) return;
    if (call === undefined || call.agent === agent) return agent.sendToolResult(callId, result);
    const json = typeof result === 'string' ? result : JSON.stringify(result ?? null);
    const note = `The ${call.name} tool you called before the line moved returned: ${json.slice(0, MAX_NOTE_CHARS)}`;
    await agent.sendText(note);
  }

  /** The profile's session cap for the current provider, in ms (undefined: none known). */
  get sessionCapMs(): number | undefined {
    const s =
      this.#profile.limits.session_max_s ??
      DEFAULT_SESSION_CAP_S[this.#current?.provider ?? this.#profile.provider];
    return s === undefined ? undefined : s * 1000;
  }

  // ---- failover ------------------------------------------------------------------------------------

  /**
   * Move the call to the next failover target that starts (true), or report that none is left (false).
   * Concurrent calls share one attempt.
   */
  failover(reason: string, failedAt: number): Promise<boolean> {
    this.#failing ??= this.#failover(reason, failedAt).finally(() => (this.#failing = undefined));
    return this.#failing;
  }

  async #failover(reason: string, failedAt: number): Promise<boolean> {
    if (this.#next >= this.#targets.length || this.#closed) return false;
    this.#stopRotation();
    const from = (await this.#h.dropCurrent()) ?? this.#current?.provider ?? this.#profile.provider;
    const history = this.#h.history();
    // The bridge clip plays while the next session connects: the caller hears it instead of dead air; the new
    // agent's reply queues behind it.
    const bridge = this.#h
      .playBridge?.()
      .catch((err: unknown) => this.#log.warn({ err }, 'bridge clip failed'));
    while (this.#next < this.#targets.length && !this.#closed) {
      const target = this.#targets[this.#next++]!;
      this.#log.warn({ from, to: target.provider, reason }, 'failing over to the next provider');
      if (await this.#h.attach({ target, history })) {
        this.#current = target;
        this.#used.push(target.provider);
        const gapMs = this.#h.now() - failedAt;
        this.#h.timeline('agent.failover', { from, to: target.provider, gapMs, reason });
        this.#log.info({ from, to: target.provider, gapMs }, 'call failed over to the next provider');
        this.#h.failedOver();
        this.sessionStarted();
        return true;
      }
      this.#h.timeline('agent.failover.failed', { to: target.provider });
    }
    await bridge;
    return false;
  }

  // ---- rotation ------------------------------------------------------------------------------------

  /** A new session became current: arm the rotation before its cap. */
  sessionStarted(): void {
    this.#stopRotation();
    const capMs = this.sessionCapMs;
    if (capMs === undefined || this.#closed) return;
    const marginMs = Math.min(MAX_ROTATE_MARGIN_MS, Math.max(MIN_ROTATE_MARGIN_MS, capMs / 10), capMs / 2);
    this.#capTimer = setTimeout(() => this.rotateSoon('session-cap'), capMs - marginMs);
    this.#capTimer.unref();
  }

  /** Caller speech from the provider's VAD: never switch while the caller is mid-sentence. */
  callerSpeech(started: boolean): void {
    this.#callerSpeaking = started;
    if (!started) this.#replyPendingSince = this.#h.now();
  }

  /** A reply ended (or was interrupted): the turn the caller's speech asked for is over. */
  replyEnded(): void {
    this.#replyPendingSince = undefined;
  }

  /** Rotate at the next quiet moment between turns (the cap is near, or the provider announced its end). */
  rotateSoon(reason: 'session-cap' | 'expiry'): void {
    if (this.#closed || this.#poll !== undefined) return;
    this.#log.info({ reason }, 'provider session rotation due');
    this.#poll = setInterval(() => {
      if (!this.#rotating && this.#quiet()) void this.#rotate(reason);
    }, QUIET_POLL_MS);
    this.#poll.unref();
  }

  #quiet(): boolean {
    if (this.#callerSpeaking || this.#h.busy()) return false;
    const pending = this.#replyPendingSince;
    return pending === undefined || this.#h.now() - pending >= REPLY_PENDING_MAX_MS;
  }

  async #rotate(reason: string): Promise<void> {
    const old = this.#h.agent();
    if (old === undefined) return;
    this.#rotating = true;
    const startedAt = this.#h.now();
    const version = this.#h.historyVersion();
    const history = this.#h.history();
    const fresh = await this.#h.startBeside({
      ...(this.#current === undefined ? {} : { target: this.#current }),
      history,
    });
    this.#rotating = false;
    if (this.#closed || this.#h.agent() !== old) {
      await fresh?.close().catch(() => undefined);
      return;
    }
    if (fresh === undefined) {
      this.#log.warn({ reason }, 'rotation: the new provider session did not start; retrying');
      this.#pause(RETRY_MS);
      return;
    }
    // Something was said while the new session connected: it would miss that turn. Try again later.
    if (this.#h.historyVersion() !== version || !this.#quiet()) {
      await fresh.close().catch(() => undefined);
      return;
    }
    this.#stopRotation();
    this.#h.adopt(fresh);
    this.#rotations++;
    const readyMs = this.#h.now() - startedAt;
    this.#h.timeline('agent.rotate', { reason, turns: history.length, readyMs, rotation: this.#rotations });
    this.#log.info({ reason, turns: history.length, readyMs }, 'provider session rotated');
    await old.close().catch(() => undefined);
    this.sessionStarted();
  }

  /**
   * The provider ended the session itself (OpenAI `session_expired`): a new session of the same target with
   * the conversation at once (the old one is gone). False when it did not start.
   */
  async renew(): Promise<boolean> {
    this.#stopRotation();
    const history = this.#h.history();
    await this.#h.dropCurrent();
    const target = this.#current === undefined ? {} : { target: this.#current };
    if (!(await this.#h.attach({ ...target, history }))) return false;
    this.#rotations++;
    this.#h.timeline('agent.rotate', { reason: 'expiry', turns: history.length, rotation: this.#rotations });
    this.#log.info({ turns: history.length }, 'provider session expired; continued in a new session');
    this.sessionStarted();
    return true;
  }

  #pause(ms: number): void {
    const poll = this.#poll;
    if (poll === undefined) return;
    clearInterval(poll);
    this.#poll = undefined;
    const t = setTimeout(() => this.rotateSoon('session-cap'), ms);
    t.unref();
    this.#capTimer = t;
  }

  #stopRotation(): void {
    clearTimeout(this.#capTimer);
    clearInterval(this.#poll);
    this.#capTimer = undefined;
    this.#poll = undefined;
  }

  close(): void {
    this.#closed = true;
    this.#stopRotation();
  }
}

/** The agent supervisor's public side that the handover drives (agent-supervisor.ts). */
export interface SupervisedAgents {
  readonly agent: Agent | undefined;
  readonly history: ConversationLog;
  readonly busy: boolean;
  dropCurrent(): Promise<string | undefined>;
  launch(request: AgentRequest, adopt: boolean): Promise<Agent | undefined>;
  adopt(agent: Agent): void;
  failedOver(): void;
}

export function handoverHost(
  sup: SupervisedAgents,
  h: Pick<HandoverHost, 'now' | 'timeline'>,
): Omit<HandoverHost, 'playBridge'> {
  return {
    now: h.now,
    timeline: h.timeline,
    agent: () => sup.agent,
    history: () => sup.history.history(),
    historyVersion: () => sup.history.version,
    dropCurrent: () => sup.dropCurrent(),
    attach: async (request) => (await sup.launch(request, true)) !== undefined,
    startBeside: (request) => sup.launch(request, false),
    adopt: (agent) => sup.adopt(agent),
    failedOver: () => sup.failedOver(),
    busy: () => sup.busy,
  };
}
