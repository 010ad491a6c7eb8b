/**
 * The agent side of one call (DESIGN.md §4, issue 11 "crash-proof calls"): attaches the first agent, watches
 * the reply the caller is hearing, and when the provider fails mid-call — a fatal error, a connection that
 * dropped, a reply that stalls — gets audio flowing again within the dead-air bound, else plays the
 * fallback prompt and transfers or hangs up.
 *
 * How it and the transport's own reconnect (WsSession, agent/transport) share the work: a dropped socket
 * is first the adapter's to replace (WsSession retries at once; the adapter reports the cut reply as a
 * failed/incomplete turn and the reset conversation as a non-fatal AGENT_CONNECTION_LOST). This class then
 * only asks the model to continue. Only when no audio came back after `stallMs` of dead air does it replace
 * the agent itself, closing the old one first (which stops the transport's retries), so the two layers never
 * run two sessions at once. A fatal error replaces the agent at once, as before: once per incident.
 */
import type { Agent, AgentErrorEvent } from '../agent/agent.js';
import type { Logger } from '../observability/logger.js';
import type { PreparedAgent } from './agent-launch.js';
import { runFallback } from './agent-fallback.js';
import { AgentHandover, handoverHost } from './agent-handover.js';
import { ConversationLog, continuationPrompt } from './conversation-log.js';
import { DeadAirWatch, type Incident } from './dead-air-watch.js';
import type { AgentRequest, CallSessionDeps, EndReason } from './session-types.js';
import type { TransferOutcome, TransferTarget } from './tools/dispatcher.js';

/** Dead air inside a reply that counts as a stalled provider (profile `limits.provider_stall_ms`). */
export const DEFAULT_STALL_MS = 2000;
/** Incidents one call may recover from; a provider failing more often than this is not coming back. */
const MAX_INCIDENTS = 3;

/** What the supervisor takes from the session's own dependencies. */
export type AgentSupervisorDeps = Pick<
  CallSessionDeps,
  | 'profile'
  | 'logger'
  | 'metrics'
  | 'media'
  | 'createAgent'
  | 'firstAgent'
  | 'playPrompt'
  | 'defaultFallbackPrompt'
>;

/** The session's side of the agent lifecycle. */
export interface AgentSupervisorHooks {
  readonly now: () => number;
  /** Subscribes the session to an agent's events; `live()` is false once the agent was replaced. */
  readonly wire: (agent: Agent, live: () => boolean) => void;
  /**
   * The caller can hear us and nothing of ours keeps the provider waiting: not ended, transferring or on
   * hold, no tool call running (a webhook may take seconds before the model speaks again). Dead air counts.
   */
  readonly audible: () => boolean;
  readonly ended: () => boolean;
  /** A reply that will never finish (its agent was replaced): the session closes its bookkeeping. */
  readonly abandonReply: (responseId: string) => void;
  readonly transfer: (target: TransferTarget) => Promise<TransferOutcome>;
  readonly end: (reason: EndReason) => Promise<void>;
  readonly timeline: (kind: string, data: Record<string, unknown>) => void;
  /** Another agent is current: the session rebuilds its audio bridges if its provider takes other formats. */
  readonly switched?: () => void;
}

export class AgentSupervisor {
  readonly #d: AgentSupervisorDeps;
  readonly #h: AgentSupervisorHooks;
  readonly #log: Logger;
  readonly #conversation = new ConversationLog();
  #agent: Agent | undefined;
  #starting: Agent | undefined;
  /** The response whose audio the caller is hearing (first accepted delta to its turn end). */
  #replying: string | undefined;
  #incident: Incident | undefined;
  #incidents = 0;
  #signalAt = Number.NEGATIVE_INFINITY;
  #attempt = 0;
  #failed = false;
  #closed = false;
  readonly #watch: DeadAirWatch;
  /** Failover to the profile's next provider and session rotation (agent-handover.ts). */
  readonly handover: AgentHandover;

  constructor(deps: AgentSupervisorDeps, hooks: AgentSupervisorHooks) {
    this.#d = deps;
    this.#h = hooks;
    this.#log = deps.logger;
    this.#watch = new DeadAirWatch({
      now: () => hooks.now(),
      log: deps.logger,
      stallMs: deps.profile.limits.provider_stall_ms ?? DEFAULT_STALL_MS,
      replying: () => this.#replying !== undefined,
      incident: () => this.#incident,
      ended: () => hooks.ended(),
      silenceCounts: () => hooks.audible() && deps.media.playout.queuedMs === 0,
      hasAgent: () => this.#agent !== undefined,
      prime: (inc) => this.#prime(inc),
      replace: (kind) => void this.#replace(kind),
      fallback: () => void this.fallback(),
    });
    const bridge = deps.profile.failover_bridge_audio;
    const play = deps.playPrompt;
    this.handover = new AgentHandover(deps.profile, deps.logger, {
      ...handoverHost(this, hooks),
      playBridge: bridge === undefined || play === undefined ? undefined : () => play(bridge),
    });
  }

  get agent(): Agent | undefined {
    return this.#agent;
  }

  /** Attach the first agent (adopting the one started before the 200 OK), else a failover target. */
  async attach(): Promise<boolean> {
    if ((await this.#attach(this.#d.firstAgent)) !== undefined) return (this.handover.sessionStarted(), true);
    return this.handover.targetsLeft && this.handover.failover('start-failed', this.#h.now());
  }

  /** For the handover (agent-handover.ts): close the current agent, abandoning its reply. */
  async dropCurrent(): Promise<string | undefined> {
    const old = this.#agent;
    this.#agent = undefined;
    const abandoned = this.#replying;
    this.#replying = undefined;
    if (abandoned !== undefined) this.#h.abandonReply(abandoned);
    await old?.close().catch(() => undefined);
    return old?.provider;
  }

  /** For the handover: an agent for `request`, adopted as the current one (or only started beside it). */
  launch(request: AgentRequest, adopt: boolean): Promise<Agent | undefined> {
    return this.#attach(undefined, request, adopt);
  }

  /** The uplink follows at once; the session's bridges too (a failover target may take other formats). */
  adopt(agent: Agent): void {
    this.#agent = agent;
    this.#h.switched?.();
  }

  get history(): ConversationLog {
    return this.#conversation;
  }

  /** The agent is quiet between turns: no reply arriving or queued, no incident, nothing of ours busy. */
  get busy(): boolean {
    const queued = this.#d.media.playout.queuedMs > 0;
    return this.#replying !== undefined || this.#incident !== undefined || !this.#h.audible() || queued;
  }

  /** A failover target is current: a fresh incident budget, and it is asked to continue the reply. */
  failedOver(): void {
    this.#incidents = 0;
    this.#watch.heard();
    const inc = this.#incident;
    if (inc === undefined) return;
    inc.replaced = true;
    inc.primed.clear();
    this.#prime(inc);
    this.#arm();
  }

  // ---- what the session reports --------------------------------------------------------------------

  /** An assistant audio chunk was accepted for playout. */
  audio(responseId: string): void {
    this.#replying = responseId;
    this.#watch.heard();
    const inc = this.#incident;
    if (inc !== undefined) {
      this.#incident = undefined;
      const recoveredAfterMs = this.#h.now() - inc.at;
      this.#log.info({ kind: inc.kind, recoveredAfterMs, replaced: inc.replaced }, 'agent audio is back');
      this.#h.timeline('agent.recovered', { kind: inc.kind, recoveredAfterMs, replaced: inc.replaced });
    }
    this.#arm();
  }

  turnEnded(responseId: string, status: string): void {
    if (this.#replying !== responseId) return;
    this.#replying = undefined;
    // A reply the provider cut short (its connection dropped: OpenAI 'failed', Gemini/Qwen 'incomplete').
    if (status === 'failed' || status === 'incomplete') this.#open('cut');
  }

  /** Barge-in: the caller stopped the reply; its silence is the caller's doing. */
  interrupted(): void {
    this.#replying = undefined;
  }

  userTranscript(text: string, final: boolean): void {
    this.#conversation.caller(text, final);
  }

  assistantText(text: string, final: boolean, responseId: string | undefined): void {
    this.#conversation.agent(text, final, responseId);
  }

  error(e: AgentErrorEvent): void {
    this.#d.metrics.agentErrors.inc({ code: e.code });
    this.#h.timeline('agent.error', { ...e });
    if (this.#h.ended()) return;
    if (!e.fatal) {
      this.#log.warn({ code: e.code, providerCode: e.providerCode }, 'agent reported a recoverable error');
      // The adapter is replacing (or has replaced) its connection: the conversation may be gone with it.
      if (e.retryable && (e.code === 'AGENT_CONNECTION_LOST' || e.code === 'AGENT_PROVIDER_ERROR'))
        this.#signal();
      return;
    }
    // The provider ends its session (OpenAI's cap [S12]): a new session with the conversation, else replace.
    if (e.providerCode === 'session_expired' && this.#agent !== undefined) {
      void this.handover.renew().then((ok) => (ok ? undefined : this.#replace('fatal')));
      return;
    }
    this.#log.error({ code: e.code, providerCode: e.providerCode }, 'agent failed');
    // An agent still starting reports its failure through start() as well: that path handles it.
    if (this.#agent === undefined) return;
    void this.#replace('fatal');
  }

  /** The agent ended its session without an error event (a provider that closed on us). */
  sessionClosed(agent: Agent): void {
    if (agent !== this.#agent || this.#closed || this.#h.ended()) return;
    this.#log.error('agent session closed mid-call');
    void this.#replace('closed');
  }

  // ---- endings -------------------------------------------------------------------------------------

  /** The call left (transfer): stop watching and close the agent. */
  async detach(): Promise<void> {
    this.#watch.stop();
    const agent = this.#agent;
    this.#agent = undefined;
    await agent?.close().catch(() => undefined);
  }

  /** The call ended: close every agent (also one still starting), stop the watchdog. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.handover.close();
    this.#watch.stop();
    const agent = this.#agent;
    const starting = this.#starting;
    this.#agent = undefined;
    this.#starting = undefined;
    // An agent still starting (the session never adopted it) is stopped too.
    await this.#d.firstAgent?.close();
    await starting?.close().catch(() => undefined);
    await agent?.close().catch((err: unknown) => this.#log.warn({ err }, 'agent close failed'));
  }

  /** No agent (any more): the fallback prompt, then transfer or hang up as the profile says. */
  async fallback(): Promise<void> {
    if (this.#failed || this.#h.ended()) return;
    // The profile's failover targets first (issue 15); the prompt only when none of them answers.
    const failedAt = this.#incident?.at ?? this.#h.now();
    if (this.handover.targetsLeft && (await this.handover.failover('provider-failed', failedAt))) return;
    if (this.#failed || this.#h.ended()) return;
    this.#failed = true;
    this.#watch.stop();
    const old = this.#agent;
    this.#agent = undefined;
    await old?.close().catch(() => undefined);
    await runFallback(this.#d, this.#h, this.#log);
  }

  // ---- recovery ------------------------------------------------------------------------------------

  /** Create and start an agent (or adopt the prepared one); false when it failed or is no longer wanted. */
  async #attach(
    prepared: PreparedAgent | undefined,
    request?: AgentRequest,
    adopt = true,
  ): Promise<Agent | undefined> {
    const attempt = adopt ? ++this.#attempt : this.#attempt;
    const wanted = (): boolean => attempt === this.#attempt && !this.#closed && !this.#failed;
    let agent: Agent;
    try {
      agent = prepared !== undefined ? await prepared.ready : await this.#d.createAgent(request);
    } catch (err) {
      return this.#startFailed(err, wanted);
    }
    // An agent started beside the current one (rotation) is not heard until it is adopted.
    if (adopt) this.#starting = agent;
    this.#wire(agent, () => agent === this.#agent || agent === this.#starting);
    if (prepared !== undefined) {
      // Errors the agent reported before it was wired (between start and the ACK) are handled now.
      for (const e of prepared.adopt()) queueMicrotask(() => this.error(e));
    } else {
      try {
        await agent.start();
      } catch (err) {
        if (this.#starting === agent) this.#starting = undefined;
        // A half-open provider session must not outlive the attempt.
        await agent.close().catch(() => undefined);
        return this.#startFailed(err, wanted);
      }
    }
    if (this.#starting === agent) this.#starting = undefined;
    if (!wanted() || this.#h.ended()) {
      await agent.close().catch(() => undefined);
      return undefined;
    }
    if (adopt) this.adopt(agent);
    return agent;
  }

  #startFailed(err: unknown, wanted: () => boolean): undefined {
    if (!wanted() || this.#h.ended()) return undefined;
    this.#log.error({ err }, 'agent could not start');
    this.#d.metrics.agentErrors.inc({ code: (err as { code?: string }).code ?? 'AGENT_START_FAILED' });
    return undefined;
  }

  #wire(agent: Agent, live: () => boolean): void {
    agent.on('session.close', () => this.sessionClosed(agent));
    this.handover.watch(agent, live);
    this.#h.wire(agent, live);
  }

  /** A failure was noticed: start the incident clock (one incident until audio is heard again). */
  #open(kind: Incident['kind']): Incident | undefined {
    if (this.#incident !== undefined) return this.#incident;
    if (++this.#incidents > MAX_INCIDENTS) {
      this.#log.error({ incidents: this.#incidents - 1 }, 'agent keeps failing; giving up on it');
      void this.fallback();
      return undefined;
    }
    const inc: Incident = {
      kind,
      at: this.#h.now(),
      cutOff: this.#conversation.cut(),
      signalled: this.#h.now() - this.#signalAt < 1000,
      primed: new Set(),
      replaced: false,
    };
    this.#incident = inc;
    this.#log.warn({ kind }, 'agent reply lost; recovering');
    this.#h.timeline('agent.lost', { kind });
    if (inc.signalled) this.#prime(inc);
    this.#arm();
    return inc;
  }

  /** The transport reported a reconnect: ask the (same) agent to go on, now that it can hear us. */
  #signal(): void {
    this.#signalAt = this.#h.now();
    const inc = this.#incident;
    if (inc === undefined) return;
    inc.signalled = true;
    // A conversation reset after our first request (OpenAI: the request died with the old socket): again.
    const agent = this.#agent;
    if (agent !== undefined) inc.primed.delete(agent);
    this.#prime(inc);
  }

  #prime(inc: Incident): void {
    const agent = this.#agent;
    if (agent === undefined || inc.primed.has(agent)) return;
    inc.primed.add(agent);
    agent
      .sendText(continuationPrompt(this.#conversation.transcript(), inc.cutOff))
      .catch((err: unknown) => this.#log.warn({ err }, 'could not ask the agent to continue'));
  }

  /** Close the failed agent and start a new one that continues the conversation; else the fallback. */
  async #replace(kind: Incident['kind']): Promise<void> {
    if (this.#failed || this.#closed) return;
    const inc = this.#open(kind);
    if (inc === undefined) return;
    await this.dropCurrent();
    if (inc.replaced) {
      // Once per incident (DESIGN.md §4): the replacement failed too.
      await this.fallback();
      return;
    }
    inc.replaced = true;
    this.#h.timeline('agent.replace', { kind });
    if ((await this.#attach(undefined)) !== undefined) {
      this.#log.info({ kind }, 'agent replaced after a provider failure');
      if (this.#incident === inc) this.#prime(inc);
      return;
    }
    await this.fallback();
  }

  /** The dead-air watchdog (dead-air-watch.ts) runs while a reply arrives or an incident is open. */
  #arm(): void {
    if (!this.#closed && !this.#failed) this.#watch.arm();
  }
}
