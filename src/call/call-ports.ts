/**
 * The seams of the call layer: what the call manager needs from the agent registry, the media engine and
 * the recorder, and the live call it hands to transfers and the HTTP API. Implementations are wired in
 * main.ts only (DESIGN.md §1).
 */
import type { Agent, AgentOptions, AudioFormat } from '../agent/agent.js';
import type { ProviderCapabilities } from '../agent/provider.js';
import type { Logger } from '../observability/logger.js';
import type { AgentProfile, AmdSettings } from '../routing/dialplan.js';
import type { LoadedDialplan } from '../routing/dialplan-store.js';
import type { NegotiatedMedia } from '../sip/sdp.js';
import type { Dialog, Signaling } from '../sip/signaling.js';
import type { TenantStore } from '../tenants/store.js';
import type { CallAdmission } from './admission.js';
import type { CallEventSink } from './call-events.js';
import type { CallMetrics } from './call-metrics.js';
import type { InboundAuthenticator } from './inbound-auth.js';
import type { MediaLeg } from './media-leg.js';
import type { EarlyAudioBuffer } from './early-audio.js';
import type { CallSession, CallTimeline } from './session.js';
import type { TransferOutcome, TransferTarget } from './tools/dispatcher.js';

/** The agent side as the call manager needs it (the provider registry satisfies it). */
export interface AgentCatalog {
  capabilities(slug: string): ProviderCapabilities | undefined;
  /** The names a credential for this provider may be stored under (slug first, then canonical and aliases). */
  slugs?(slug: string): readonly string[];
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
  /**
   * `signalingAddress`: where the call's INVITE came from; RTP latching prefers that source (issue 11), so
   * an attacker on another address cannot take the call's media before the caller's first packet.
   */
  allocate(options?: { readonly signalingAddress?: string }): Promise<PendingMediaLeg>;
}

export interface CallRecorderFactory {
  /** A timeline sink for a call whose profile says `record: true`. */
  open(info: {
    callId: string;
    tenant: string;
    /** Who placed the call: the caller (inbound) or this server (outbound, `POST /v1/calls`). */
    direction: 'inbound' | 'outbound';
    from: string;
    to: string;
    codec: string;
    provider: string;
    media: MediaLeg;
    /** Caller identity and configured headers (call-variables.ts), for call.json. */
    variables?: Readonly<Record<string, string>>;
  }): CallTimeline & {
    close(reason: string): Promise<void>;
  };
}

/** A call as its observer sees it at the answer (outcomes/: CDR and transcript; wired in main.ts). */
export interface ObservedCall {
  readonly id: string;
  readonly tenant: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  readonly codec: string;
  readonly profile: AgentProfile;
  readonly media: MediaLeg;
  /** The agent's output format: how many ms of audio a reply chunk holds. */
  readonly agentOutput: AudioFormat;
  /** INVITE received (inbound) or sent (outbound), ms since the epoch; absent: the answer. */
  readonly invitedAtMs?: number;
}

/** Watches one call: the session's timeline, every agent it uses (the first and any replacement), the session. */
export interface CallObserver extends CallTimeline {
  agent(agent: Agent): void;
  session(session: CallSession): void;
}

export interface CallObserverFactory {
  open(call: ObservedCall): CallObserver;
}

export interface CallManagerDeps {
  readonly signaling: Signaling;
  /** Issue 13: the tenant (and AOR user) of a Request-URI user that is one of our registered contacts. */
  readonly registeredContact?: (
    user: string,
  ) => { readonly tenant: string; readonly calledUser: string } | undefined;
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
  /** A WAV prompt's encoded frames for a leg (filler and hold clips). */
  readonly promptFrames?: (media: MediaLeg, path: string) => readonly Buffer[];
  /** Said when a tenant has no usable credential and no fallback audio. */
  readonly defaultUnavailablePrompt: string;
  readonly recorder?: CallRecorderFactory;
  /** What every call leaves behind (CDR, transcript), recorded or not. */
  readonly observer?: CallObserverFactory;
  /** Builds a second leg for bridge transfers; absent: bridge unsupported. */
  readonly bridge?: (call: LiveCall, target: TransferTarget) => Promise<TransferOutcome>;
  /**
   * How long an inbound INVITE waits (after 180 Ringing) for the agent to be ready before the 200 OK goes
   * out anyway. Default 3000 ms.
   */
  readonly agentReadyWaitMs?: number;
  /** Front-door admission (rate, caps), asked after routing and before an RTP port is taken (issue 11). */
  readonly admission?: CallAdmission;
  /** Digest authentication for dialplans with `auth`; absent, such dialplans refuse every call (fail closed). */
  readonly inboundAuth?: InboundAuthenticator;
  /** Call events for the outside (issue 16: event webhooks); every method only enqueues. */
  readonly events?: CallEventSink;
}

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

/** A call whose offer/answer is done (inbound after the ACK, outbound after the callee's 200). */
export interface EstablishedCall {
  readonly tenant: string;
  readonly profile: AgentProfile;
  readonly dialog: Dialog;
  readonly pending: PendingMediaLeg;
  readonly negotiated: NegotiatedMedia;
  readonly from: string;
  readonly to: string;
  /** The leg already running since early media (outbound 183 with SDP); `pending` is then spent. */
  readonly media?: MediaLeg;
  /** What that early media carried, for the agent once it is attached. */
  readonly earlyAudio?: EarlyAudioBuffer;
  /** Answering-machine detection (outbound, issue 18): the request's `amd`, else the dialplan's default. */
  readonly amd?: AmdSettings;
  /** Per-call variables (call-variables.ts): the profile was rendered with them; the recording keeps them. */
  readonly variables?: Readonly<Record<string, string>>;
  /** When the INVITE was received (inbound) or sent (outbound), ms since the epoch. */
  readonly invitedAtMs?: number;
}
