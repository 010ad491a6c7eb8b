/**
 * The CallSession contract: what it is built from, the events it emits, and the words it uses for endings
 * and media directions (STYLE.md §1: the seam's types apart from the implementation).
 */
import type { Agent, AudioFormat, ConversationTurn, InterruptionMode } from '../agent/agent.js';
import type { Logger } from '../observability/logger.js';
import type { AgentProfile, AmdSettings, FailoverTarget } from '../routing/dialplan.js';
import type { Dialog } from '../sip/signaling.js';
import type { PreparedAgent } from './agent-launch.js';
import type { BargeInDecision } from './barge-in.js';
import type { CallMetrics } from './call-metrics.js';
import type { MediaLeg } from './media-leg.js';
import type { EarlyAudioBuffer } from './early-audio.js';
import type { ToolOutcome, TransferOutcome, TransferTarget } from './tools/dispatcher.js';

export type EndReason =
  | 'caller-bye'
  | 'end_call'
  | 'transferred'
  | 'max-duration'
  | 'idle-timeout'
  | 'rtp-timeout'
  | 'agent-failed'
  | 'api-hangup'
  | 'shutdown'
  | 'keyword-hangup'
  | 'amd-machine'
  | 'voicemail-left'
  | 'fax'
  | 'sit'
  | 'error';

export interface AgentFormats {
  readonly input: AudioFormat;
  readonly output: AudioFormat;
}

/** A new agent for a running call: another provider (failover) or a fresh session (rotation). */
export interface AgentRequest {
  /** The provider to use instead of the profile's own; undefined: the profile's. */
  readonly target?: FailoverTarget;
  readonly history?: readonly ConversationTurn[];
}

export interface CallTimeline {
  /** Everything worth recording, in order (the recorder subscribes). */
  event(kind: string, data: Record<string, unknown>): void;
}

export interface CallSessionDeps {
  readonly id: string;
  readonly tenant: string;
  readonly dialog: Dialog;
  readonly media: MediaLeg;
  readonly profile: AgentProfile;
  readonly logger: Logger;
  readonly metrics: CallMetrics;
  /**
   * Creates (and may re-create, once, after a fatal provider error) the agent for this call; with a request,
   * the agent of a failover target (issue 15) or a rotated session (issue 14), seeded with the history.
   */
  readonly createAgent: (next?: AgentRequest) => Promise<Agent>;
  /** The agent formats for another provider of this call's codec (a failover target); undefined: unknown. */
  readonly agentFormatsFor?: (provider: string) => AgentFormats | undefined;
  /** The agent already being started before the 200 OK (inbound.ts); used for the first attempt. */
  readonly firstAgent?: PreparedAgent;
  /** Early media the callee played before answering (outbound): given to the agent first, oldest first. */
  readonly earlyAudio?: EarlyAudioBuffer;
  /** The agent's audio formats (chooseAgentFormats): G.711 passthrough when the provider takes the codec. */
  readonly agentFormats: AgentFormats;
  /** Transfer by REFER or bridge; the session detaches the agent when the call leaves. */
  readonly transfer: (target: TransferTarget) => Promise<TransferOutcome>;
  /** Plays a prompt (fallback audio) into the call and resolves when it has been sent. */
  readonly playPrompt?: (path: string) => Promise<void>;
  /** A prompt's encoded frames for this call's leg (filler and hold clips, issue 14). */
  readonly promptFrames?: (path: string) => readonly Buffer[];
  /** Played when the agent cannot start and the profile has no fallback audio: never silence. */
  readonly defaultFallbackPrompt?: string;
  readonly timeline?: CallTimeline;
  readonly now?: () => number;
  /** Who interrupts the agent (turns/interruption-mode.ts); default from barge_in.enabled: provider or off. */
  readonly interruptions?: InterruptionMode;
  /** Outbound calls greet after the callee's first words (turns/first-words.ts). Default inbound. */
  readonly direction?: 'inbound' | 'outbound';
  /** Answering-machine detection for this outbound call (issue 18; call/outbound/amd-call.ts). */
  readonly amd?: AmdSettings;
  /** How long to wait for the first inbound RTP before greeting anyway. */
  readonly greetingLatchWaitMs?: number;
}

export interface CallSessionEvents {
  ended: [{ readonly reason: EndReason }];
  'tool.outcome': [ToolOutcome];
  /** With the provider's speech onset (ms of caller audio it had received), when it reports one. */
  'barge-in': [BargeInDecision & { readonly audioStartMs?: number }];
  /** The caller held or resumed the call (a re-INVITE/UPDATE changed what may flow). */
  media: [MediaDirectionState];
  /** A key the caller pressed (RFC 4733 or SIP INFO), e.g. for a bridge to relay. */
  dtmf: [{ readonly digit: string; readonly via: 'rtp' | 'info' }];
}

/** What the current SDP lets this call do (RFC 3264 §6.1 directions, c=0.0.0.0 hold). */
export interface MediaDirectionState {
  /** We may send RTP to the caller (sendrecv/sendonly answer, real address). */
  readonly sending: boolean;
  /** The caller's RTP is meant for us (sendrecv/recvonly answer). */
  readonly receiving: boolean;
}
