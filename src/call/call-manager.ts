import { randomUUID } from 'node:crypto';
import type { Agent, AgentOptions } from '../agent/agent.js';
import type { ProviderCapabilities } from '../agent/provider.js';
import type { CallControl, CallSummary, DialRequest } from '../http/ports.js';
import type { Logger } from '../observability/logger.js';
import type { AgentProfile } from '../routing/dialplan.js';
import type { LoadedDialplan } from '../routing/dialplan-store.js';
import { route } from '../routing/router.js';
import { createOffer, negotiateAnswer, parseAnswer, type NegotiatedMedia } from '../sip/sdp.js';
import { SipError, type Dialog, type IncomingCall, type Signaling } from '../sip/signaling.js';
import type { TenantStore } from '../tenants/store.js';
import { chooseAgentFormats } from './audio-bridge.js';
import type { CallMetrics } from './call-metrics.js';
import type { MediaLeg } from './media-leg.js';
import { CallSession, type CallTimeline } from './session.js';
import { toolSpecsFor } from './tools/definitions.js';
import type { TransferOutcome, TransferTarget } from './tools/dispatcher.js';

/** The agent side as the call manager needs it (the provider registry satisfies it). */
export interface AgentCatalog {
  capabilities(slug: string): ProviderCapabilities | undefined;
  /** Throws a coded error for an unknown provider or an invalid/missing credential field. */
  create(credential: { readonly provider: string } & Record<string, unknown>, options: AgentOptions): Agent;
}

/** An RTP port reserved before the SDP answer is written. */
export interface PendingMediaLeg {
  readonly localPort: number;
  /** Starts the leg with the negotiated media. */
  start(media: NegotiatedMedia): MediaLeg;
  release(): void;
}

export interface MediaLegFactory {
  allocate(): Promise<PendingMediaLeg>;
}

export interface CallRecorderFactory {
  /** A timeline sink for a call whose profile says `record: true`. */
  open(info: {
    callId: string;
    tenant: string;
    from: string;
    to: string;
    codec: string;
    provider: string;
    media: MediaLeg;
  }): CallTimeline & {
    close(reason: string): Promise<void>;
  };
}

export interface CallManagerDeps {
  readonly signaling: Signaling;
  readonly dialplans: () => readonly LoadedDialplan[];
  readonly store: TenantStore;
  readonly agents: AgentCatalog;
  readonly media: MediaLegFactory;
  readonly publicHost: string;
  readonly logger: Logger;
  readonly metrics: CallMetrics;
  readonly instanceId: string;
  /** Plays a WAV prompt into a leg; resolves once sent. */
  readonly playPrompt: (media: MediaLeg, path: string) => Promise<void>;
  /** Said when a tenant has no usable credential and no fallback audio. */
  readonly defaultUnavailablePrompt: string;
  readonly recorder?: CallRecorderFactory;
  /** Builds a second leg for bridge transfers; absent: bridge unsupported. */
  readonly bridge?: (call: LiveCall, target: TransferTarget) => Promise<TransferOutcome>;
}

/** How long an outbound call may ring before it is abandoned (a typical no-answer timeout). */
const OUTBOUND_RING_TIMEOUT_MS = 30_000;

export interface LiveCall {
  readonly id: string;
  readonly tenant: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  readonly dialog: Dialog;
  readonly media: MediaLeg;
  readonly session: CallSession;
  readonly codec: string;
  readonly profile: AgentProfile;
}

/**
 * Turns INVITEs into CallSessions (DESIGN.md §2) and is the CallControl behind the HTTP API: routing by
 * dialplan, the tenant's credential, SDP negotiation, the RTP leg, the agent, and the live-call table.
 */
export class CallManager implements CallControl {
  readonly #d: CallManagerDeps;
  readonly #calls = new Map<string, LiveCall>();
  readonly #log: Logger;
  #closing = false;

  constructor(deps: CallManagerDeps) {
    this.#d = deps;
    this.#log = deps.logger.child({ component: 'calls' });
    deps.signaling.onInvite((call) => {
      this.#onInvite(call).catch((err: unknown) => {
        this.#log.error({ err, sipCallId: call.callId }, 'INVITE handling failed');
        if (!call.cancelled) call.reject(500, { reason: 'Server Internal Error' }).catch(() => undefined);
      });
    });
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

  async #onInvite(call: IncomingCall): Promise<void> {
    const log = this.#log.child({ sipCallId: call.callId });
    if (this.#closing) return this.#reject(call, 503, 'Service Unavailable');
    const calledUser =
      call.to.user !== '' ? call.to.user : (/^sips?:([^@;]+)@/.exec(call.requestUri)?.[1] ?? '');
    const routed = route(this.#d.dialplans(), { calledUser, sourceAddress: call.source.address });
    if (!routed.ok) {
      log.info({ status: routed.status, to: calledUser }, 'call rejected by routing');
      return this.#reject(call, routed.status, routed.reason);
    }
    const { tenant, profile } = routed;
    const pending = await this.#d.media.allocate().catch((err: unknown) => {
      log.error({ err }, 'no RTP port available');
      return undefined;
    });
    if (pending === undefined) return this.#reject(call, 503, 'Service Unavailable');

    const local = { address: this.#d.publicHost, port: pending.localPort };
    let localSdp: string;
    let negotiated: NegotiatedMedia | undefined;
    if (call.sdpOffer !== undefined) {
      const answer = negotiateAnswer(call.sdpOffer, local);
      if (!answer.ok) {
        pending.release();
        log.info({ status: answer.status, detail: answer.detail }, 'SDP offer refused');
        return this.#reject(
          call,
          answer.status,
          answer.status === 488 ? 'Not Acceptable Here' : 'Bad Request',
          {
            Warning: answer.warning,
          },
        );
      }
      localSdp = answer.answerSdp;
      negotiated = answer;
    } else {
      localSdp = createOffer(local);
    }
    if (call.cancelled) {
      pending.release();
      return;
    }
    let dialog: Dialog;
    try {
      dialog = await call.answer(localSdp);
    } catch (err) {
      pending.release();
      log.info({ err: (err as Error).message }, 'call not established');
      return;
    }
    if (negotiated === undefined) {
      const parsed = parseAnswer(localSdp, dialog.remoteSdp);
      if (!parsed.ok) {
        pending.release();
        log.warn({ detail: parsed.detail }, 'ACK answer unusable; hanging up');
        await dialog.hangup().catch(() => undefined);
        return;
      }
      negotiated = parsed;
    }
    this.#startSession({
      direction: 'inbound',
      tenant,
      profile,
      dialog,
      media: pending.start(negotiated),
      from: call.from.user || call.from.uri,
      to: calledUser,
    });
  }

  async #reject(
    call: IncomingCall,
    status: number,
    reason: string,
    headers?: Record<string, string>,
  ): Promise<void> {
    this.#d.metrics.callsRejected.inc({ status: String(status) });
    if (call.cancelled) return;
    await call.reject(status, { reason, ...(headers === undefined ? {} : { headers }) });
  }

  #startSession(p: {
    direction: 'inbound' | 'outbound';
    tenant: string;
    profile: AgentProfile;
    dialog: Dialog;
    media: MediaLeg;
    from: string;
    to: string;
  }): LiveCall {
    const id = randomUUID();
    const log = this.#log.child({ callId: id, tenant: p.tenant });
    const caps = this.#d.agents.capabilities(p.profile.provider);
    const codec = p.media.codec;
    const formats = caps === undefined ? undefined : chooseAgentFormats(codec, caps);
    const recorder = p.profile.record
      ? this.#d.recorder?.open({
          callId: id,
          tenant: p.tenant,
          from: p.from,
          to: p.to,
          codec: codec.name,
          provider: p.profile.provider,
          media: p.media,
        })
      : undefined;
    // The session's transfer callback needs the LiveCall, which needs the session: resolve it lazily.
    const ref: { call?: LiveCall } = {};
    const session = new CallSession({
      id,
      tenant: p.tenant,
      dialog: p.dialog,
      media: p.media,
      profile: p.profile,
      logger: log,
      metrics: this.#d.metrics,
      agentFormats: formats ?? {
        input: { encoding: 'pcm16', sampleRateHz: 8000 },
        output: { encoding: 'pcm16', sampleRateHz: 8000 },
      },
      createAgent: async () => {
        if (formats === undefined)
          throw new SipError(500, `provider "${p.profile.provider}" is not registered`);
        const stored = await this.#d.store.getCredential(p.tenant, p.profile.provider);
        const opts: AgentOptions = {
          logger: log,
          inputFormat: formats.input,
          outputFormat: formats.output,
          tools: toolSpecsFor(p.profile),
          ...(p.profile.instructions === undefined ? {} : { instructions: p.profile.instructions }),
          ...(p.profile.greeting === undefined ? {} : { greeting: p.profile.greeting }),
          ...(p.profile.voice === undefined ? {} : { voice: p.profile.voice }),
          ...(p.profile.model === undefined ? {} : { model: p.profile.model }),
          ...(p.profile.temperature === undefined ? {} : { temperature: p.profile.temperature }),
          ...(recorder === undefined
            ? {}
            : {
                wireTap: (direction: 'in' | 'out', message: unknown) =>
                  recorder.event('wire', { direction, message }),
              }),
        };
        return this.#d.agents.create({ ...(stored?.fields ?? {}), provider: p.profile.provider }, opts);
      },
      transfer: (target) => this.#transfer(ref.call, target),
      playPrompt: (path) => this.#d.playPrompt(p.media, path),
      defaultFallbackPrompt: this.#d.defaultUnavailablePrompt,
      ...(recorder === undefined ? {} : { timeline: recorder }),
    });
    const live: LiveCall = {
      id,
      tenant: p.tenant,
      direction: p.direction,
      from: p.from,
      to: p.to,
      dialog: p.dialog,
      media: p.media,
      session,
      codec: codec.name,
      profile: p.profile,
    };
    ref.call = live;
    this.#calls.set(id, live);
    this.#d.metrics.activeCalls.inc();
    log.info(
      { direction: p.direction, codec: codec.name, provider: p.profile.provider, from: p.from, to: p.to },
      'call started',
    );
    session.once('ended', ({ reason }) => {
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
    return this.#d.bridge(call, target);
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
    return Promise.resolve(c === undefined ? undefined : this.#summary(c));
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
    const plan = this.#d.dialplans().find((d) => d.dialplan.tenant === request.tenant);
    if (plan === undefined) throw new SipError(404, `tenant "${request.tenant}" has no dialplan`);
    const trunk = await this.#d.store.getCredential(request.tenant, 'sip-trunk');
    const trunkUri = typeof trunk?.fields.uri === 'string' ? trunk.fields.uri : undefined;
    const target = /^(sips?|tel):/.test(request.to)
      ? request.to
      : trunkUri === undefined
        ? undefined
        : trunkUri.replace(/^(sips?:)/, `$1${request.to}@`).replace(/@[^@]*@/, '@');
    if (target === undefined) throw new SipError(400, 'no sip-trunk credential: give a full SIP URI in "to"');
    const pending = await this.#d.media.allocate();
    const offer = createOffer({ address: this.#d.publicHost, port: pending.localPort });
    const username = trunk?.fields.username;
    const password = trunk?.fields.password;
    let dialog: Dialog;
    try {
      dialog = await this.#d.signaling.dial(target, {
        sdpOffer: offer,
        // An unanswered outbound call gives up with 408 rather than hold the API request for Timer B.
        timeoutMs: OUTBOUND_RING_TIMEOUT_MS,
        ...(request.from === undefined ? {} : { from: request.from }),
        ...(typeof username === 'string' && typeof password === 'string'
          ? { auth: { username, password } }
          : {}),
      });
    } catch (err) {
      pending.release();
      throw err;
    }
    const answer = parseAnswer(offer, dialog.remoteSdp);
    if (!answer.ok) {
      pending.release();
      await dialog.hangup().catch(() => undefined);
      throw new SipError(488, 'callee answered with unusable SDP');
    }
    const base = plan.dialplan.agent;
    const profile: AgentProfile = {
      ...base,
      ...(request.agent?.instructions === undefined ? {} : { instructions: request.agent.instructions }),
      ...(request.agent?.greeting === undefined ? {} : { greeting: request.agent.greeting }),
      ...(request.agent?.voice === undefined ? {} : { voice: request.agent.voice }),
      ...(request.agent?.model === undefined ? {} : { model: request.agent.model }),
    };
    const live = this.#startSession({
      direction: 'outbound',
      tenant: request.tenant,
      profile,
      dialog,
      media: pending.start(answer),
      from: request.from ?? 'switchboard',
      to: request.to,
    });
    return { id: live.id };
  }

  /** Ends every call (BYE) and refuses new ones. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#calls.values()].map((c) => c.session.end('shutdown')));
  }
}
