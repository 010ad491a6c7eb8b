import { EventEmitter } from 'node:events';
import type { Agent, AgentErrorEvent } from '../agent/agent.js';
import type { Logger } from '../observability/logger.js';
import { parseInfoDtmf } from '../sip/dtmf-info.js';
import { InboundBridge, OutboundBridge } from './audio-bridge.js';
import { BargeInController } from './barge-in.js';
import { CallTimers, firstRtpOrTimeout } from './call-timers.js';
import { KeywordWatcher } from './keywords.js';
import { ReplyTracker } from './reply-tracker.js';
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
  #agent: Agent | undefined;
  #inbound: InboundBridge | undefined;
  #outbound: OutboundBridge | undefined;
  readonly #bargeIn: BargeInController;
  readonly #tools: ToolDispatcher;
  readonly #keywords: KeywordWatcher | undefined;
  #state: 'starting' | 'active' | 'transferring' | 'ended' = 'starting';
  #endReason: EndReason | undefined;
  readonly #timers: CallTimers;
  #toolChain: Promise<unknown> = Promise.resolve();
  #agentRetried = false;
  readonly #reply: ReplyTracker;
  readonly #toolOutcomes: ToolOutcome[] = [];
  #speechEndedAt: number | undefined;
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
    this.#bargeIn = new BargeInController({
      enabled: deps.profile.barge_in.enabled,
      playout: deps.media.playout,
      interrupt: (heard) => {
        this.#agent
          ?.interrupt(heard)
          .catch((err: unknown) => this.#log.warn({ err }, 'agent interrupt failed'));
      },
      onDecision: (decision) => {
        if (decision.action === 'interrupted') {
          this.#outbound?.reset();
          deps.metrics.bargeIns.inc();
        }
        const at = this.#speechStartMs;
        const event = at === undefined ? decision : { ...decision, audioStartMs: at };
        this.#timeline('barge-in', { ...event });
        this.emit('barge-in', event);
      },
    });
    this.#tools = new ToolDispatcher({
      profile: deps.profile,
      logger: this.#log,
      context: { callId: deps.id, tenant: deps.tenant },
      actions: {
        waitForPlayout: (maxWaitMs) => this.#reply.waitForReplyPlayed(maxWaitMs),
        hangup: (reason) => this.end(reason === 'end_call' ? 'end_call' : 'keyword-hangup'),
        transfer: (target) => this.#transfer(target),
        sendDtmf: (digits) => deps.media.sendDtmf(digits),
        sendToolResult: async (callId, result) => {
          await this.#agent?.sendToolResult(callId, result);
        },
      },
    });
    const kw = deps.profile.keywords;
    if (kw !== undefined && (kw.hangup.length > 0 || kw.transfer.length > 0)) {
      this.#keywords = new KeywordWatcher(kw.hangup, kw.transfer);
    }
  }

  get state(): string {
    return this.#state;
  }

  get agentProvider(): string {
    return this.#agent?.provider ?? this.#d.profile.provider;
  }

  get toolOutcomes(): readonly ToolOutcome[] {
    return this.#toolOutcomes;
  }

  /** True when caller audio reaches the agent without decoding or resampling. */
  get passthrough(): boolean {
    return this.#inbound?.mode === 'passthrough' && !this.#inbound.resampling;
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

  async start(): Promise<void> {
    const { dialog, media, profile } = this.#d;
    dialog.on('ended', ({ reason }) => {
      void this.end(reason === 'remote-bye' ? 'caller-bye' : 'error');
    });
    if (dialog.ended) {
      // The BYE overtook the session's start (it came in the same turn as the ACK).
      await this.end('caller-bye');
      return;
    }
    media.on('inactive', () => {
      // A held call may legitimately be silent (RFC 3264 §8.4); the idle timeout and max duration end it.
      if (this.#media.receiving && this.#media.sending) void this.end('rtp-timeout');
    });
    // The leg stopped on an error after the 200 (issue 10): end with BYE and free the port, no dead air.
    media.on('failed', () => void this.end('error'));
    media.on('dtmf', ({ digit }) => this.#onCallerDtmf(digit, 'rtp'));
    dialog.on('info', (info) => {
      // RFC 6086 legacy INFO: only the DTMF bodies we know (Content-Type checked by the parser); anything
      // else was answered 200 by the stack and is ignored here.
      const dtmf = parseInfoDtmf(info.contentType, info.body);
      if (dtmf === undefined) {
        this.#log.debug({ contentType: info.contentType }, 'INFO without DTMF ignored');
        return;
      }
      this.#onCallerDtmf(dtmf.digit, 'info');
    });
    media.on('frame', (payload) => {
      // On hold (we may not send) what the phone sends is music on hold, not the caller: not forwarded.
      if (this.#media.receiving && this.#media.sending) this.#inbound?.frame(payload);
    });
    this.#timers.start();

    if (!(await this.#attachAgent())) {
      await this.#fallback();
      return;
    }
    this.#state = 'active';
    this.#timeline('call.active', { passthrough: this.passthrough });
    if (profile.greeting !== undefined) await this.#greet();
  }

  /** Create and start the agent (or adopt the one started before the 200 OK); false when it failed. */
  async #attachAgent(): Promise<boolean> {
    const { media } = this.#d;
    let agent: Agent;
    const prepared = this.#agentRetried ? undefined : this.#d.firstAgent;
    try {
      if (prepared !== undefined) {
        agent = await prepared.ready;
        this.#wireAgent(agent);
        // Errors the agent reported before it was wired (between start and the ACK) are handled now.
        for (const e of prepared.adopt()) queueMicrotask(() => this.#onAgentError(e));
      } else {
        agent = await this.#d.createAgent();
        this.#wireAgent(agent);
        try {
          await agent.start();
        } catch (err) {
          // A half-open provider session must not outlive the attempt.
          await agent.close().catch(() => undefined);
          throw err;
        }
      }
    } catch (err) {
      if (this.#state === 'ended') return false;
      this.#log.error({ err }, 'agent could not start');
      this.#d.metrics.agentErrors.inc({ code: (err as { code?: string }).code ?? 'AGENT_START_FAILED' });
      return false;
    }
    if (this.#state === 'ended') {
      await agent.close();
      return false;
    }
    this.#agent = agent;
    if (this.#inbound === undefined || this.#outbound === undefined) {
      const { input, output } = this.#d.agentFormats;
      this.#inbound = new InboundBridge(media.codec, input, (audio) => this.#pushToAgent(audio));
      // The playout itself is the sink: the bridge drops what exceeds the per-call cap before encoding it.
      this.#outbound = new OutboundBridge(output, media.codec, media.ptimeMs, media.playout);
    }
    return true;
  }

  #pushToAgent(audio: Buffer | Int16Array): void {
    const agent = this.#agent;
    if (agent === undefined || this.#state === 'ended') return;
    try {
      agent.pushAudio(audio);
    } catch (err) {
      this.#log.warn({ err }, 'agent refused audio');
    }
  }

  #wireAgent(agent: Agent): void {
    const { metrics } = this.#d;
    agent.on('user.speech.started', ({ audioStartMs }) => {
      this.#timers.activity();
      this.#speechStartMs = audioStartMs;
      this.#bargeIn.userSpeechStarted();
    });
    agent.on('user.speech.ended', () => {
      this.#timers.activity();
      this.#speechEndedAt = this.#now();
    });
    agent.on('assistant.audio', ({ audio, itemId, responseId }) => {
      if (!this.#bargeIn.acceptAudio(responseId)) return;
      if (this.#speechEndedAt !== undefined) {
        metrics.responseLatency.observe((this.#now() - this.#speechEndedAt) / 1000);
        this.#speechEndedAt = undefined;
      }
      this.#timers.activity();
      this.#outbound?.push(audio, itemId, responseId);
      this.#reply.audio(responseId);
    });
    agent.on('assistant.turn.end', ({ responseId }) => {
      this.#outbound?.endItem();
      this.#bargeIn.turnEnded(responseId);
      this.#reply.turnEnded(responseId);
    });
    agent.on('assistant.text', ({ text, final }) => {
      if (this.#keywords === undefined || !final) return;
      const action = this.#keywords.match(text);
      if (action === 'hangup')
        void this.#queueTool({ callId: 'keyword', name: 'end_call', args: { reason: 'keyword' } });
      if (action === 'transfer') {
        const target =
          this.#d.profile.fallback?.transfer_to ??
          Object.keys(this.#d.profile.tools.transfer_call?.targets ?? {})[0];
        if (target !== undefined)
          void this.#queueTool({ callId: 'keyword', name: 'transfer_call', args: { destination: target } });
      }
    });
    agent.on('tool.call', (call) => {
      // The response carrying the call has not ended yet: its sentence may still be on its way.
      this.#reply.toolCall();
      metrics.toolCalls.inc({ name: call.name });
      this.#timeline('tool.call', { ...call });
      void this.#queueTool(call);
    });
    agent.on('error', (e) => this.#onAgentError(e));
  }

  #queueTool(call: {
    callId: string;
    name: string;
    args: Readonly<Record<string, unknown>>;
  }): Promise<unknown> {
    // Tool calls run one at a time, in order: a transfer must not race an end_call.
    this.#toolChain = this.#toolChain.then(async () => {
      if (this.#state === 'ended') return;
      const outcome = await this.#tools.handle(call);
      this.#toolOutcomes.push(outcome);
      this.#timeline('tool.result', { ...outcome });
      this.emit('tool.outcome', outcome);
    });
    this.#toolChain = this.#toolChain.catch((err: unknown) => this.#log.error({ err }, 'tool call failed'));
    return this.#toolChain;
  }

  #onCallerDtmf(digit: string, via: 'rtp' | 'info'): void {
    this.#timers.activity();
    this.#timeline('dtmf', { digit, via });
    this.emit('dtmf', { digit, via });
    this.#agent
      ?.sendText(`The caller pressed ${digit}`)
      .catch((err: unknown) => this.#log.warn({ err }, 'could not send DTMF to agent'));
  }

  #onAgentError(e: AgentErrorEvent): void {
    this.#d.metrics.agentErrors.inc({ code: e.code });
    this.#timeline('agent.error', { ...e });
    if (!e.fatal || this.#state === 'ended') {
      this.#log.warn({ code: e.code, providerCode: e.providerCode }, 'agent reported a recoverable error');
      return;
    }
    this.#log.error({ code: e.code, providerCode: e.providerCode }, 'agent failed');
    void this.#recoverAgent();
  }

  /** A provider that dies mid-call must not leave dead air: reconnect once, else fallback (DESIGN.md §4). */
  async #recoverAgent(): Promise<void> {
    const old = this.#agent;
    this.#agent = undefined;
    this.#d.media.playout.flush();
    await old?.close().catch(() => undefined);
    if (!this.#agentRetried) {
      this.#agentRetried = true;
      if (await this.#attachAgent()) {
        this.#log.info('agent reconnected after a fatal error');
        return;
      }
    }
    await this.#fallback();
  }

  async #fallback(): Promise<void> {
    const fb = this.#d.profile.fallback;
    if (this.#state === 'ended') return;
    const prompt = fb?.audio ?? this.#d.defaultFallbackPrompt;
    if (prompt !== undefined && this.#d.playPrompt !== undefined) {
      try {
        await this.#d.playPrompt(prompt);
      } catch (err) {
        this.#log.warn({ err }, 'fallback prompt failed');
      }
    }
    const target = fb?.transfer_to;
    const uri = target === undefined ? undefined : this.#d.profile.tools.transfer_call?.targets[target];
    if (target !== undefined && uri !== undefined) {
      const outcome = await this.#transfer({
        name: target,
        uri,
        method: this.#d.profile.tools.transfer_call?.method ?? 'refer',
      });
      if (outcome.callLeft) return;
    }
    await this.end('agent-failed');
  }

  async #greet(): Promise<void> {
    // NAT latching: the first inbound packet tells us where to send; greet once it arrives (≤ 2 s).
    await firstRtpOrTimeout(this.#d.media, this.#d.greetingLatchWaitMs ?? 2000);
    if (this.#state !== 'active') return;
    await this.#agent?.greet().catch((err: unknown) => this.#log.warn({ err }, 'greeting failed'));
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
      const agent = this.#agent;
      this.#agent = undefined;
      await agent?.close().catch(() => undefined);
      // A bridged call stays up (the bridge ends it); a REFERred one is the transferee's now.
      if (outcome.via !== 'bridge' || !outcome.ok) await this.end('transferred');
      return outcome;
    }
    this.#state = 'active';
    return outcome;
  }

  /** End the call (idempotent): BYE unless the peer already ended, close the agent, release the port. */
  async end(reason: EndReason): Promise<void> {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#endReason = reason;
    this.#timers.stop();
    this.#reply.end();
    const { dialog, media, metrics } = this.#d;
    const agent = this.#agent;
    this.#agent = undefined;
    const stats = media.stats();
    media.close();
    // An agent still starting (the session never adopted it) is stopped too.
    await this.#d.firstAgent?.close();
    await agent?.close().catch((err: unknown) => this.#log.warn({ err }, 'agent close failed'));
    if (!dialog.ended && reason !== 'caller-bye') {
      await dialog.hangup().catch((err: unknown) => this.#log.warn({ err }, 'BYE failed'));
    }
    metrics.callsEnded.inc({ reason });
    metrics.rtpLost.inc(stats.lost);
    metrics.rtpLate.inc(stats.late);
    this.#timeline('call.end', { reason });
    this.#log.info(
      {
        reason,
        durationMs: this.#now() - this.startedAt.getTime(),
        bargeIns: this.#bargeIn.bargeIns,
        tools: this.#toolOutcomes.map((t) => `${t.name}:${t.ok ? 'ok' : 'failed'}`),
        rtp: stats,
      },
      'call ended',
    );
    this.emit('ended', { reason });
  }

  #timeline(kind: string, data: Record<string, unknown>): void {
    this.#d.timeline?.event(kind, data);
  }
}
