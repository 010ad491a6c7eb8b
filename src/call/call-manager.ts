import { randomUUID } from 'node:crypto';
import type { Agent, AudioFormat } from '../agent/agent.js';
import type { CallControl, CallSummary, DialRequest } from '../http/ports.js';
import type { Codec } from '../media/codecs/codec.js';
import type { Logger } from '../observability/logger.js';
import type { AgentProfile } from '../routing/dialplan.js';
import type { NegotiatedMedia } from '../sip/sdp.js';
import { SipError, type IncomingCall } from '../sip/signaling.js';
import { PreparedAgent, WireTapBuffer, agentCreator } from './agent-launch.js';
import { resolveInterruptions } from './turns/interruption-mode.js';
import { chooseAgentFormats } from './audio-bridge.js';
import { callIdentity, notEstablished, observeSession } from './call-events.js';
import type { CallManagerDeps, CallObserver, EstablishedCall, LiveCall } from './call-ports.js';
import { handleInvite } from './inbound.js';
import { callQuality } from './leg-rtcp.js';
import type { MediaLeg } from './media-leg.js';
import { MediaUpdater, directionState } from './media-update.js';
import { dialOutbound } from './outbound-dial.js';
import { CallSession, type CallTimeline } from './session.js';
import type { TransferOutcome, TransferTarget } from './tools/dispatcher.js';

export type {
  AgentCatalog,
  CallManagerDeps,
  CallObserver,
  CallObserverFactory,
  CallRecorderFactory,
  LiveCall,
  ObservedCall,
  MediaLegFactory,
  PendingMediaLeg,
} from './call-ports.js';

/** What a session is started from, inbound (after the ACK) or outbound (after the callee's 200). */
interface SessionStart extends EstablishedCall {
  readonly id?: string;
  readonly direction: 'inbound' | 'outbound';
  readonly startedAt?: Date;
  readonly agent?: { readonly prepared: PreparedAgent; readonly wire: WireTapBuffer };
}

/**
 * Turns INVITEs into CallSessions (DESIGN.md §2) and is the CallControl behind the HTTP API. The INVITE
 * itself (routing, SDP, 180, the agent started while ringing, CANCEL) is inbound.ts; outbound calls are
 * outbound-dial.ts; the caller's re-INVITEs are media-update.ts. This class keeps the live-call table.
 */
export class CallManager implements CallControl {
  readonly #d: CallManagerDeps;
  readonly #calls = new Map<string, LiveCall>();
  /** BYEs sent whose transaction has not completed yet (their calls already left #calls). */
  readonly #byesInFlight = new Set<Promise<void>>();
  readonly #log: Logger;
  /** Per live call: tells its event observer that it left by transfer. */
  readonly #observed = new WeakMap<LiveCall, ReturnType<typeof observeSession>>();
  #closing = false;

  constructor(deps: CallManagerDeps) {
    this.#d = deps;
    this.#log = deps.logger.child({ component: 'calls' });
    deps.signaling.onInvite((call) => this.#onInvite(call));
  }

  get size(): number {
    return this.#calls.size;
  }

  live(id: string): LiveCall | undefined {
    return this.#calls.get(id);
  }

  /** Every call in progress (tests reach the live CallSession through this). */
  liveCalls(): LiveCall[] {
    return [...this.#calls.values()];
  }

  #onInvite(call: IncomingCall): void {
    const log = this.#log.child({ sipCallId: call.callId });
    void handleInvite(
      this.#d,
      {
        closing: () => this.#closing,
        prepareAgent: (p) => this.#prepareAgent(p),
        answered: (answered) => void this.#startSession({ direction: 'inbound', ...answered }),
        started: (c) => this.#d.events?.started({ ...callIdentity({ ...c, direction: 'inbound' }), ...c }),
        notEstablished: (c, reason) => {
          const events = this.#d.events;
          if (events)
            notEstablished(events, callIdentity({ ...c, direction: 'inbound' }), c.startedAt, reason);
        },
      },
      call,
      log,
    )
      .catch((err: unknown) => {
        log.error({ err }, 'INVITE handling failed');
        if (!call.cancelled) call.reject(500, { reason: 'Server Internal Error' }).catch(() => undefined);
      })
      // Admission counted the INVITE as pending; it is now either in the live table or gone.
      .finally(() => this.#d.admission?.settled(call));
  }

  #formats(
    profile: AgentProfile,
    codec: Pick<Codec, 'name' | 'sampleRateHz'>,
  ): { input: AudioFormat; output: AudioFormat } | undefined {
    const caps = this.#d.agents.capabilities(profile.provider);
    return caps === undefined ? undefined : chooseAgentFormats(codec, caps);
  }

  #prepareAgent(p: {
    readonly id: string;
    readonly tenant: string;
    readonly profile: AgentProfile;
    readonly negotiated: NegotiatedMedia;
    readonly wire: WireTapBuffer;
  }): PreparedAgent {
    const log = this.#log.child({ callId: p.id, tenant: p.tenant });
    const codec = { name: p.negotiated.codec.name, sampleRateHz: p.negotiated.codec.clockRateHz };
    const formats = this.#formats(p.profile, codec);
    return new PreparedAgent(
      agentCreator(this.#d, { tenant: p.tenant, profile: p.profile, formats, log, wireTap: p.wire.tap }),
    );
  }

  /** Starts the leg and the session; any failure here ends the call with BYE and frees what it held. */
  async #startSession(p: SessionStart): Promise<LiveCall | undefined> {
    const id = p.id ?? randomUUID();
    const log = this.#log.child({ callId: id, tenant: p.tenant });
    let media: MediaLeg;
    try {
      media = p.media ?? p.pending.start(p.negotiated);
    } catch (err) {
      log.error({ err }, 'media leg could not start; hanging up');
      p.pending.release();
      await p.agent?.prepared.close();
      await p.dialog.hangup().catch(() => undefined);
      return undefined;
    }
    const codec = media.codec;
    const formats = this.#formats(p.profile, codec);
    const recorder = p.profile.record
      ? this.#d.recorder?.open({
          callId: id,
          tenant: p.tenant,
          direction: p.direction,
          from: p.from,
          to: p.to,
          codec: codec.name,
          provider: p.profile.provider,
          media,
          ...(p.variables === undefined ? {} : { variables: p.variables }),
        })
      : undefined;
    const observer = this.#d.observer?.open({
      id,
      tenant: p.tenant,
      direction: p.direction,
      from: p.from,
      to: p.to,
      codec: codec.name,
      profile: p.profile,
      media,
      agentOutput: formats?.output ?? { encoding: 'pcm16', sampleRateHz: 8000 },
      ...(p.invitedAtMs === undefined ? {} : { invitedAtMs: p.invitedAtMs }),
    });
    void p.agent?.prepared.ready.then(
      (agent) => observer?.agent(agent),
      () => undefined,
    );
    const timeline = joinTimelines(recorder, observer);
    const wire = p.agent?.wire ?? new WireTapBuffer(recorder !== undefined);
    if (recorder === undefined) wire.discard();
    else wire.attach((direction, message) => recorder.event('wire', { direction, message }));
    // The session's transfer callback needs the LiveCall, which needs the session: resolve it lazily.
    const ref: { call?: LiveCall } = {};
    const session = new CallSession({
      id,
      tenant: p.tenant,
      dialog: p.dialog,
      media,
      profile: p.profile,
      direction: p.direction,
      logger: log,
      metrics: this.#d.metrics,
      agentFormats: formats ?? {
        input: { encoding: 'pcm16', sampleRateHz: 8000 },
        output: { encoding: 'pcm16', sampleRateHz: 8000 },
      },
      createAgent: observedAgents(
        agentCreator(this.#d, {
          tenant: p.tenant,
          profile: p.profile,
          formats,
          log,
          wireTap: wire.tap,
          formatsFor: (provider) => this.#formats({ ...p.profile, provider }, codec),
        }),
        observer,
      ),
      agentFormatsFor: (provider) => this.#formats({ ...p.profile, provider }, codec),
      ...(p.agent === undefined ? {} : { firstAgent: p.agent.prepared }),
      ...(p.earlyAudio === undefined ? {} : { earlyAudio: p.earlyAudio }),
      ...(p.amd === undefined ? {} : { amd: p.amd }),
      transfer: (target) => this.#transfer(ref.call, target),
      playPrompt: (path) => this.#d.playPrompt(media, path),
      ...(this.#d.promptFrames === undefined
        ? {}
        : { promptFrames: (path: string) => this.#d.promptFrames!(media, path) }),
      defaultFallbackPrompt: this.#d.defaultUnavailablePrompt,
      interruptions: resolveInterruptions(
        p.profile.barge_in,
        this.#d.agents.capabilities(p.profile.provider),
      ),
      ...(timeline === undefined ? {} : { timeline }),
    });
    observer?.session(session);
    // RFC 3264 §8: the caller's re-INVITE/UPDATE offers (hold, resume, media moved, refresh).
    const updater = new MediaUpdater({
      dialog: p.dialog,
      media,
      local: { address: this.#d.publicHost, port: media.localPort },
      negotiated: p.negotiated,
      logger: log,
      onChange: (state) => session.mediaChanged(state),
    });
    p.dialog.on('modify', (request) => {
      try {
        updater.handle(request);
      } catch (err) {
        log.error({ err }, 're-INVITE handling failed');
        request.reject(500, { reason: 'Server Internal Error' });
      }
    });
    session.mediaChanged(directionState(p.negotiated));
    const live: LiveCall = {
      id,
      tenant: p.tenant,
      direction: p.direction,
      from: p.from,
      to: p.to,
      dialog: p.dialog,
      media,
      session,
      codec: codec.name,
      profile: p.profile,
    };
    ref.call = live;
    const events = this.#d.events;
    if (events !== undefined) {
      const identity = callIdentity(live);
      const startedAt = p.startedAt ?? session.startedAt;
      if (p.direction === 'outbound') events.started({ ...identity, startedAt });
      this.#observed.set(live, observeSession(events, identity, session));
    }
    this.#calls.set(id, live);
    this.#d.metrics.activeCalls.inc();
    log.info(
      { direction: p.direction, codec: codec.name, provider: p.profile.provider, from: p.from, to: p.to },
      'call started',
    );
    session.once('ended', ({ reason }) => {
      this.#byesInFlight.add(session.byeSettled);
      void session.byeSettled.then(() => this.#byesInFlight.delete(session.byeSettled));
      updater.dispose();
      this.#calls.delete(id);
      this.#d.metrics.activeCalls.dec();
      recorder?.close(reason).catch((err: unknown) => log.warn({ err }, 'recording close failed'));
    });
    session.start().catch(async (err: unknown) => {
      log.error({ err }, 'call session failed');
      await session.end('error');
    });
    return live;
  }

  async #transfer(call: LiveCall | undefined, target: TransferTarget): Promise<TransferOutcome> {
    if (call === undefined) return { ok: false, callLeft: false, message: 'call not ready' };
    if (target.method === 'refer') {
      try {
        const result = await call.dialog.refer(target.uri, { timeoutMs: 15_000 });
        if (result.status >= 200 && result.status < 300) {
          this.#observed.get(call)?.transferred(target.name, 'refer');
          return {
            ok: true,
            callLeft: true,
            status: result.status,
            via: 'refer',
            message: `REFER accepted: ${result.status} ${result.reason}`,
          };
        }
        this.#log.info({ callId: call.id, status: result.status }, 'REFER failed; falling back to bridge');
      } catch (err) {
        this.#log.info(
          { callId: call.id, err: (err as Error).message },
          'REFER failed; falling back to bridge',
        );
      }
    }
    if (this.#d.bridge === undefined)
      return { ok: false, callLeft: false, message: 'transfer failed and bridging is unavailable' };
    const bridged = await this.#d.bridge(call, target);
    if (bridged.ok && bridged.callLeft) this.#observed.get(call)?.transferred(target.name, 'bridge');
    return bridged;
  }

  // ---- CallControl (HTTP API) ----

  #summary(c: LiveCall): CallSummary {
    return {
      id: c.id,
      tenant: c.tenant,
      direction: c.direction,
      from: c.from,
      to: c.to,
      startedAt: c.session.startedAt.toISOString(),
      codec: c.codec,
      provider: c.session.agentProvider,
      state: c.session.state,
      instance: this.#d.instanceId,
    };
  }

  list(): Promise<CallSummary[]> {
    return Promise.resolve([...this.#calls.values()].map((c) => this.#summary(c)));
  }

  get(id: string): Promise<CallSummary | undefined> {
    const c = this.#calls.get(id);
    if (c === undefined) return Promise.resolve(undefined);
    // Live RTCP figures for the one-call view only: list() feeds the cluster registry, which must not churn.
    const rtcp = c.media.stats().rtcp;
    return Promise.resolve({
      ...this.#summary(c),
      ...(rtcp === undefined ? {} : { quality: callQuality(rtcp) }),
    });
  }

  async hangup(id: string): Promise<boolean> {
    const c = this.#calls.get(id);
    if (c === undefined) return false;
    await c.session.end('api-hangup');
    return true;
  }

  async transfer(
    id: string,
    destination: string,
  ): Promise<{ ok: boolean; status?: number; message: string }> {
    const c = this.#calls.get(id);
    if (c === undefined) return { ok: false, message: 'no such call' };
    const transfer = c.profile.tools.transfer_call;
    const uri = transfer?.targets[destination];
    if (transfer === undefined || uri === undefined) {
      return { ok: false, message: `unknown destination "${destination}"` };
    }
    // Through the session, so the agent is detached and a bridged call is not hung up.
    const outcome = await c.session.transfer({ name: destination, uri, method: transfer.method });
    return {
      ok: outcome.ok,
      message: outcome.message,
      ...(outcome.status === undefined ? {} : { status: outcome.status }),
    };
  }

  async dial(request: DialRequest): Promise<{ id: string }> {
    const dialed = await dialOutbound(this.#d, request);
    const live = await this.#startSession({ direction: 'outbound', ...dialed });
    if (live === undefined) throw new SipError(500, 'outbound call could not start its media');
    return { id: live.id };
  }

  /** Ends every call (BYE) and refuses new ones. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#calls.values()].map((c) => c.session.end('shutdown')));
    // A call leaves the list when its BYE is sent; shutdown still waits for the BYEs' responses (or Timer
    // F), so the SIP sockets stay open for their retransmissions.
    await Promise.all([...this.#byesInFlight]);
  }
}

/** The recorder and the observer both see the timeline (either may be absent). */
function joinTimelines(a: CallTimeline | undefined, b: CallTimeline | undefined): CallTimeline | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  return {
    event: (kind, data) => {
      a.event(kind, data);
      b.event(kind, data);
    },
  };
}

/** Every agent created for the call (a replacement after a provider failure too) is shown to the observer. */
function observedAgents<A extends unknown[]>(
  create: (...args: A) => Promise<Agent>,
  observer: CallObserver | undefined,
): (...args: A) => Promise<Agent> {
  if (observer === undefined) return create;
  return async (...args) => {
    const agent = await create(...args);
    observer.agent(agent);
    return agent;
  };
}
