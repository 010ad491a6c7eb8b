import { EventEmitter } from 'node:events';
import type { Agent } from '../agent/agent.js';
import type { Logger } from '../observability/logger.js';
import { handlerBoundary, inCallScope } from '../observability/process-guard.js';
import { AgentSupervisor } from './agent-supervisor.js';
import { agentBridges, type InboundBridge, type OutboundBridge, type UplinkCleaner } from './audio-bridge.js';
import { UplinkCleanup } from './uplink-cleanup.js';
import { InterruptionPolicy } from './turns/interruption-policy.js';
import { AmdCall } from './outbound/amd-call.js';
import { reportCallEnded } from './call-summary.js';
import { CallTimers, firstRtpOrTimeout } from './call-timers.js';
import { dialogEnded, listenToLeg } from './leg-events.js';
import { wireAgentEvents } from './session-agent-events.js';
import { playAtMost } from './prompt.js';
import { ReplyTracker } from './reply-tracker.js';
import { ToolQueue } from './tool-queue.js';
import { CallTurns } from './turns/call-turns.js';
import type { CallSessionDeps, CallSessionEvents, EndReason, MediaDirectionState } from './session-types.js';
import {
  ToolDispatcher,
  type ToolOutcome,
  type TransferOutcome,
  type TransferTarget,
} from './tools/dispatcher.js';

export type {
  CallSessionDeps,
  CallSessionEvents,
  CallTimeline,
  EndReason,
  MediaDirectionState,
} from './session-types.js';

/**
 * One call: joins a media leg and an agent (DESIGN.md §2). It delegates to small parts: the audio bridges
 * (format conversion), the barge-in controller, the tool dispatcher and the keyword watcher; it owns only
 * the wiring and the endings. Every ending releases the RTP port, closes the agent and logs one summary.
 */
export class CallSession extends EventEmitter<CallSessionEvents> {
  readonly id: string;
  readonly startedAt: Date;
  readonly #d: CallSessionDeps;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #sup: AgentSupervisor;
  #byeSettled: Promise<void> = Promise.resolve();
  #inbound: InboundBridge | undefined;
  #uplink: UplinkCleanup | undefined;
  #amd: AmdCall | undefined;
  /** What the bridges clean caller audio with: the clean-up chain, then AMD's tap. */
  #cleaner: UplinkCleaner | undefined;
  #outbound: OutboundBridge | undefined;
  #formats: CallSessionDeps['agentFormats'] | undefined;
  readonly #bargeIn: InterruptionPolicy;
  readonly #tools: ToolQueue;
  #state: 'starting' | 'active' | 'transferring' | 'ended' = 'starting';
  #endReason: EndReason | undefined;
  readonly #timers: CallTimers;
  readonly #reply: ReplyTracker;
  readonly #turns: CallTurns;
  #speechStartMs: number | undefined;
  #media: MediaDirectionState = { sending: true, receiving: true };

  constructor(deps: CallSessionDeps) {
    super();
    this.#d = deps;
    this.id = deps.id;
    this.#now = deps.now ?? Date.now;
    this.startedAt = new Date(this.#now());
    this.#timers = new CallTimers({
      maxDurationMs: deps.profile.limits.max_duration_s * 1000,
      idleTimeoutMs: deps.profile.limits.idle_timeout_s * 1000,
      now: this.#now,
      idleEligible: () => this.#state === 'active',
      // Audio waiting behind a hold is not activity: a call parked on hold must still time out.
      playing: () => this.#media.sending && deps.media.playout.queuedMs > 0,
      onMaxDuration: () => void this.end('max-duration'),
      onIdle: () => void this.end('idle-timeout'),
    });
    this.#log = deps.logger;
    this.#reply = new ReplyTracker({
      whenDrained: () => deps.media.playout.whenDrained(),
      now: this.#now,
      onTimeout: () => this.#log.warn('reply did not finish playing in time; acting anyway'),
    });
    this.#bargeIn = new InterruptionPolicy({
      mode: deps.interruptions ?? (deps.profile.barge_in.enabled ? 'provider' : 'off'),
      settings: deps.profile.barge_in,
      playout: deps.media.playout,
      userTurn: (verdict) =>
        void this.#sup.agent
          ?.userTurn?.(verdict)
          .catch((err: unknown) => this.#log.warn({ err }, 'userTurn failed')),
      falseInterruption: () => deps.metrics.falseInterruptions.inc(),
      interrupt: (heard) => {
        if (this.#turns.ownsItem(heard.itemId)) return; // a filler clip: nothing of the agent's to truncate
        this.#sup.agent
          ?.interrupt(heard)
          .catch((err: unknown) => this.#log.warn({ err }, 'agent interrupt failed'));
      },
      onDecision: (decision) => {
        if (decision.action === 'interrupted') {
          this.#sup.interrupted();
          this.#outbound?.reset();
          deps.metrics.bargeIns.inc();
        }
        const at = this.#speechStartMs;
        const event = at === undefined ? decision : { ...decision, audioStartMs: at };
        this.#timeline('barge-in', { ...event });
        this.emit('barge-in', event);
      },
    });
    const dispatcher = new ToolDispatcher({
      profile: deps.profile,
      logger: this.#log,
      context: { callId: deps.id, tenant: deps.tenant },
      actions: {
        waitForPlayout: (maxWaitMs) => this.#reply.waitForReplyPlayed(maxWaitMs),
        hangup: (reason) => this.end(reason === 'end_call' ? 'end_call' : 'keyword-hangup'),
        transfer: (target) => this.#transfer(target),
        sendDtmf: (digits) => deps.media.sendDtmf(digits),
        sendToolResult: async (callId, result) => {
          await this.#sup.handover.toolResult(callId, result);
        },
      },
    });
    this.#tools = new ToolQueue({
      tools: dispatcher,
      profile: deps.profile,
      logger: this.#log,
      ended: () => this.#state === 'ended',
      onOutcome: (outcome) => {
        this.#turns.toolDone();
        this.#timeline('tool.result', { ...outcome });
        this.emit('tool.outcome', outcome);
      },
    });
    this.#turns = new CallTurns(deps, {
      quiet: () => this.#state === 'active' && deps.media.playout.queuedMs === 0 && !this.#tools.busy,
      agent: () => this.#sup.agent,
    });
    this.#sup = new AgentSupervisor(deps, {
      now: this.#now,
      wire: (agent, live) => this.#wireAgent(agent, live),
      audible: () => this.#state === 'active' && this.#media.sending && !this.#tools.busy,
      ended: () => this.#state === 'ended',
      abandonReply: (responseId) => {
        this.#outbound?.endItem();
        this.#bargeIn.turnEnded(responseId);
        this.#reply.turnEnded(responseId);
      },
      transfer: (target) => this.#transfer(target),
      end: (reason) => this.end(reason),
      timeline: (kind, data) => this.#timeline(kind, data),
      switched: () => this.#state === 'active' && this.#bridge(),
    });
  }

  get state(): string {
    return this.#state;
  }

  get agentProvider(): string {
    return this.#sup.agent?.provider ?? this.#d.profile.provider;
  }

  get toolOutcomes(): readonly ToolOutcome[] {
    return this.#tools.outcomes;
  }

  /** True when caller audio reaches the agent without decoding or resampling (no uplink clean-up either). */
  get passthrough(): boolean {
    const tapped = this.#uplink !== undefined || this.#amd !== undefined;
    return this.#inbound?.mode === 'passthrough' && !this.#inbound.resampling && !tapped;
  }

  get resamplerInstantiated(): boolean {
    return (this.#inbound?.resampling ?? false) || (this.#outbound?.resampling ?? false);
  }

  get #ended(): boolean {
    return this.#state === 'ended';
  }

  get endReason(): EndReason | undefined {
    return this.#endReason;
  }

  /** True while the caller holds the call (we send nothing; the agent's queued audio waits). */
  get held(): boolean {
    return !this.#media.sending;
  }

  /**
   * A re-INVITE/UPDATE changed the media direction (media-update.ts). On hold the leg sends nothing and
   * pauses playout; caller audio meant as music-on-hold is not the caller speaking, so it is not forwarded.
   */
  mediaChanged(state: MediaDirectionState): void {
    if (state.sending === this.#media.sending && state.receiving === this.#media.receiving) return;
    this.#media = state;
    this.#timers.activity();
    this.#timeline('media.direction', { ...state });
    this.#log.info({ ...state }, state.sending ? 'call media resumed' : 'call on hold');
    this.emit('media', state);
  }

  /** Runs within the call's scope, so a stray error from any of its async work is logged with its id. */
  start(): Promise<void> {
    return inCallScope({ callId: this.id, tenant: this.#d.tenant }, () => this.#start());
  }

  async #start(): Promise<void> {
    const { dialog, media, profile } = this.#d;
    listenToLeg(
      dialog,
      media,
      {
        ended: (reason) => void this.end(reason === 'remote-bye' ? 'caller-bye' : 'error'),
        // A held call may legitimately be silent (RFC 3264 §8.4); the idle timeout and max duration end it.
        inactive: () => {
          if (this.#media.receiving && this.#media.sending) void this.end('rtp-timeout');
        },
        // The leg stopped on an error after the 200 (issue 10): end with BYE and free the port, no dead air.
        failed: () => void this.end('error'),
        dtmf: (digit, via) => this.#onCallerDtmf(digit, via),
        frame: (payload) => {
          // On hold (we may not send) what the phone sends is music on hold, not the caller: not forwarded.
          if (!this.#media.receiving || !this.#media.sending) return;
          try {
            this.#turns.callerFrame();
            this.#inbound?.frame(payload);
          } catch (err) {
            this.#handlerFailed(err);
          }
        },
      },
      this.#boundary,
      this.#log,
    );
    if (dialog.ended) {
      // The BYE overtook the session's start (it came in the same turn as the ACK).
      await this.end('caller-bye');
      return;
    }
    this.#timers.start();

    if (!(await this.#sup.attach())) {
      await this.#sup.fallback();
      return;
    }
    this.#uplink = UplinkCleanup.create(media, profile.audio);
    this.#amd = AmdCall.create(this.#d, media.codec.sampleRateHz, this.#log, {
      cutAgent: () => (this.#bargeIn.cut(), this.#sup.interrupted(), this.#outbound?.reset()),
      say: async (text) => this.#sup.agent?.sendText(text),
      waitForNextReply: (ms) => this.#reply.waitForNextReplyPlayed(ms),
      end: (reason) => this.end(reason),
      timeline: (kind, data) => this.#timeline(kind, data),
    });
    this.#cleaner = this.#amd?.after(this.#uplink) ?? this.#uplink;
    this.#bridge();
    // RFC 3960 early media (a 183 with SDP on an outbound call): the agent hears it before the live audio.
    this.#d.earlyAudio?.replay((frame) => this.#inbound?.frame(frame));
    this.#state = 'active';
    this.#turns.start();
    this.#timeline('call.active', { passthrough: this.passthrough });
    if (profile.greeting !== undefined) await this.#greet();
  }

  /** Audio bridges for the agent's formats (a failover target's provider may take others: issue 15). */
  #bridge(): void {
    const p = this.#sup.agent?.provider;
    const f = (p === undefined ? undefined : this.#d.agentFormatsFor?.(p)) ?? this.#d.agentFormats;
    if (JSON.stringify(f) === JSON.stringify(this.#formats)) return;
    this.#formats = f;
    const b = agentBridges(this.#d.media, f, (a) => this.#pushToAgent(a), this.#cleaner);
    [this.#inbound, this.#outbound] = [b.inbound, b.outbound];
  }

  /** The error boundary of the session's handlers: a handler that throws ends this call (BYE, port freed). */
  readonly #boundary = handlerBoundary((err) => this.#handlerFailed(err));

  #handlerFailed(err: unknown): void {
    this.#log.error({ err }, 'call handler threw; ending the call');
    void this.end('error');
  }

  #pushToAgent(audio: Buffer | Int16Array): void {
    const agent = this.#sup.agent;
    if (agent === undefined || this.#state === 'ended') return;
    try {
      agent.pushAudio(audio);
      // The uplink's media clock (G.711 passthrough: 1 byte a sample; PCM16: Int16Array samples).
      this.#bargeIn.audioPushed((audio.length * 1000) / (this.#formats?.input.sampleRateHz ?? 8000));
    } catch (err) {
      this.#log.warn({ err }, 'agent refused audio');
    }
  }

  #wireAgent(agent: Agent, live: () => boolean): void {
    wireAgentEvents(agent, live, {
      boundary: this.#boundary,
      metrics: this.#d.metrics,
      timers: this.#timers,
      turns: this.#turns,
      bargeIn: this.#bargeIn,
      reply: this.#reply,
      tools: this.#tools,
      sup: this.#sup,
      outbound: () => this.#outbound,
      amd: () => this.#amd,
      speechStarted: (audioStartMs) => (this.#speechStartMs = audioStartMs),
      timeline: (kind, data) => this.#timeline(kind, data),
    });
  }

  #onCallerDtmf(digit: string, via: 'rtp' | 'info'): void {
    this.#timers.activity();
    this.#timeline('dtmf', { digit, via });
    this.emit('dtmf', { digit, via });
    this.#sup.agent
      ?.sendText(`The caller pressed ${digit}`)
      .catch((err: unknown) => this.#log.warn({ err }, 'could not send DTMF to agent'));
  }

  async #greet(): Promise<void> {
    // NAT latching: the first inbound packet tells us where to send; greet once it arrives (≤ 2 s).
    await firstRtpOrTimeout(this.#d.media, this.#d.greetingLatchWaitMs ?? 2000);
    await this.#turns.beforeGreeting();
    if (this.#state !== 'active') return;
    await this.#sup.agent?.greet().catch((err: unknown) => this.#log.warn({ err }, 'greeting failed'));
  }

  /**
   * Drain deadline (issue 12): the agent leaves, the profile's fallback prompt plays (if it has one, for at
   * most `maxPromptMs`), then BYE.
   */
  async goodbye(reason: EndReason, maxPromptMs: number): Promise<void> {
    if (this.#ended) return;
    this.#d.media.playout.flush();
    await this.#sup.detach();
    const prompt = this.#d.profile.fallback?.audio;
    if (prompt !== undefined && this.#d.playPrompt !== undefined && !this.#ended)
      await playAtMost(this.#d.playPrompt, prompt, maxPromptMs, this.#log);
    await this.end(reason);
  }

  /** Transfer on the server's initiative (control API): the same path as the transfer_call tool. */
  transfer(target: TransferTarget): Promise<TransferOutcome> {
    return this.#transfer(target);
  }

  async #transfer(target: TransferTarget): Promise<TransferOutcome> {
    if (this.#state === 'ended') return { ok: false, callLeft: false, message: 'call already ended' };
    this.#state = 'transferring';
    this.#timeline('transfer.start', { target: target.name, method: target.method });
    let outcome: TransferOutcome;
    try {
      outcome = await this.#d.transfer(target);
    } catch (err) {
      // A transfer path that throws (no RTP port, a leg that cannot start) must not leave the call
      // 'transferring' forever nor become an unhandled rejection: it is a failed transfer.
      this.#log.error({ err }, 'transfer failed');
      outcome = { ok: false, callLeft: false, message: 'transfer failed' };
    }
    this.#timeline('transfer.result', { ...outcome });
    // The caller may have hung up while the transfer was in progress.
    if (this.#ended) return outcome;
    if (outcome.callLeft) {
      // The agent is detached: the caller now talks to the transfer target.
      await this.#sup.detach();
      // A bridged call stays up (the bridge ends it); a REFERred one is the transferee's now.
      if (outcome.via !== 'bridge' || !outcome.ok) await this.end('transferred');
      return outcome;
    }
    this.#state = 'active';
    return outcome;
  }

  /** Our BYE's transaction has completed (response or timeout); `end()` resolves once it is sent. */
  get byeSettled(): Promise<void> {
    return this.#byeSettled;
  }

  /** End the call (idempotent): BYE unless the peer already ended, close the agent, release the port. */
  async end(reason: EndReason): Promise<void> {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#endReason = reason;
    this.#timers.stop();
    this.#bargeIn.close();
    this.#reply.end();
    this.#turns.close();
    const { dialog, media, metrics } = this.#d;
    const stats = media.stats();
    this.#uplink?.close();
    this.#amd?.close();
    media.close();
    await this.#sup.close();
    if (!dialog.ended && reason !== 'caller-bye') {
      const byeDone = dialog.hangup().catch((err: unknown) => this.#log.warn({ err }, 'BYE failed'));
      this.#byeSettled = byeDone;
      // The call leaves the live list (GET /v1/calls, the cluster registry) when the BYE goes out — the
      // dialog ends as it sends it — not when the response arrives: a peer that never answers holds the BYE
      // transaction for Timer F (64·T1 = 32 s, RFC 3261 §17.1.2.2).
      await Promise.race([byeDone, dialogEnded(dialog)]);
    }
    this.#timeline('call.end', { reason });
    reportCallEnded(this.#log, metrics, {
      reason,
      durationMs: this.#now() - this.startedAt.getTime(),
      bargeIns: this.#bargeIn.bargeIns,
      rtp: stats,
      tools: this.#tools,
      uplink: this.#uplink,
      turns: this.#turns,
      handover: this.#sup.handover,
      amd: this.#amd,
    });
    this.emit('ended', { reason });
  }

  #timeline(kind: string, data: Record<string, unknown>): void {
    this.#d.timeline?.event(kind, data);
  }
}
