import type { EventEmitter } from 'node:events';
import type { Logger } from '../observability/logger.js';
import type { AgentEvents, AudioFormat } from './events.js';
import { SwitchboardError } from '../errors.js';

export type { AgentEvents, AudioFormat, AgentErrorEvent } from './events.js';

/** A function tool the model may call; `parameters` is a JSON Schema object. */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  readonly parameters: Readonly<Record<string, unknown>>;
}

/** The provider's own input noise reduction (OpenAI `noise_reduction`); `off` turns it off. */
export type NoiseReduction = 'near_field' | 'far_field' | 'off';

/** Input transcription of the caller's speech (what 'user.transcript' comes from). */
export interface TranscriptionSettings {
  readonly enabled: boolean;
  /** BCP-47 / ISO-639 hint, e.g. `en` or `en-US`. */
  readonly language?: string;
  /** Transcription model (Azure: a deployment name); default: the credential's or the provider's. */
  readonly model?: string;
}

/**
 * Turn settings (profile `turn:`, issue 14). Every field is optional but `type`; an absent one keeps the
 * provider's default. Adapters map only what their capabilities.turn declares; the dialplan loader refuses
 * anything else, so an adapter never receives a setting it cannot honour.
 */
export interface VadSettings {
  readonly type: 'server_vad' | 'semantic_vad';
  /** server_vad activation threshold 0..1. */
  readonly threshold?: number;
  readonly silenceDurationMs?: number;
  readonly prefixPaddingMs?: number;
  /** semantic_vad eagerness. */
  readonly eagerness?: 'low' | 'medium' | 'high' | 'auto';
  readonly noiseReduction?: NoiseReduction;
  readonly transcription?: TranscriptionSettings;
}

/** A finished turn of the conversation so far, to seed a new session (rotation, failover: issues 14/15). */
export interface ConversationTurn {
  readonly role: 'user' | 'assistant';
  readonly text: string;
}

/**
 * Who interrupts the agent's reply when the caller speaks: `provider` (its own VAD cancels the reply, today's
 * behaviour), `server` (the provider's auto-interrupt is off and the call layer decides: issue 14), `off`
 * (nobody: barge_in.enabled false). Adapters without capabilities.serverInterruptions only know `provider`.
 */
export type InterruptionMode = 'provider' | 'server' | 'off';

/** One provider wire message, for recordings (audio payloads replaced by `{audioMs, bytes}` by the tap). */
export type WireTap = (direction: 'in' | 'out', message: unknown) => void;

export interface AgentOptions {
  readonly instructions?: string;
  readonly voice?: string;
  readonly model?: string;
  /** Format of the audio given to pushAudio(). Must be one of the provider's capabilities.inputFormats. */
  readonly inputFormat: AudioFormat;
  /** Format of 'assistant.audio'. Must be one of the provider's capabilities.outputFormats. */
  readonly outputFormat: AudioFormat;
  readonly vad?: VadSettings;
  /** Default `provider`. */
  readonly interruptions?: InterruptionMode;
  /** The conversation so far, given to a new session in the form its protocol accepts (issues 14/15). */
  readonly history?: readonly ConversationTurn[];
  readonly temperature?: number;
  readonly tools?: readonly ToolSpec[];
  /** When set, the agent speaks first with this instruction once start() has resolved and greet() is called. */
  readonly greeting?: string;
  readonly logger: Logger;
  readonly wireTap?: WireTap;
}

/**
 * A realtime speech-to-speech session with one provider (TypeScript port of the seed `realtime` Agent).
 * Knows nothing of SIP. Events are typed; see AgentEvents.
 */
export interface Agent extends EventEmitter<AgentEvents> {
  /** The registry slug this agent was created from. */
  readonly provider: string;
  /** Resolves when the provider session is ready for audio; rejects with an AgentError. */
  start(): Promise<void>;
  /** Ask the model to speak first using options.greeting (no-op without a greeting). */
  greet(): Promise<void>;
  /**
   * Caller audio in options.inputFormat. Never blocks; if a bounded queue overflows it is counted and
   * logged once. The caller may reuse `audio` once this returns: an adapter that keeps audio must copy it.
   * Throws AgentError('AGENT_CLOSED') after close().
   */
  pushAudio(audio: Buffer | Int16Array): void;
  /**
   * Barge-in: cancel the reply in progress and tell the provider how much of the current assistant item
   * was actually heard by the caller (OpenAI: conversation.item.truncate; Gemini/Qwen: no truncate).
   */
  interrupt(heard: { readonly playedMs: number; readonly itemId?: string }): Promise<void>;
  /**
   * interruptions 'server' only (issue 14): the call layer's verdict on the caller's last utterance, given
   * once per user.speech.ended. `respond: true`: a real turn, the provider answers it (its own automatic
   * response is off in this mode). `respond: false`: a backchannel or a noise during the reply that did not
   * interrupt it: no answer, and the utterance is removed from the conversation where the protocol allows
   * (OpenAI conversation.item.delete), so the model neither answers it now nor reacts to it later.
   */
  userTurn?(verdict: { readonly respond: boolean }): Promise<void>;
  sendToolResult(callId: string, result: unknown): Promise<void>;
  /** A user-side text message (DTMF notes, system notes) that makes the model respond. */
  sendText(text: string): Promise<void>;
  updateInstructions(text: string): Promise<void>;
  /** Idempotent. After close every other method rejects (or throws) with code AGENT_CLOSED. */
  close(): Promise<void>;
}

export type AgentErrorCode =
  | 'AGENT_CLOSED'
  | 'AGENT_UNKNOWN_PROVIDER'
  | 'AGENT_CREDENTIAL_INVALID'
  | 'AGENT_CONNECT_FAILED'
  | 'AGENT_AUTH_FAILED'
  | 'AGENT_PROTOCOL'
  | 'AGENT_PROVIDER_ERROR'
  | 'AGENT_CONNECTION_LOST'
  | 'AGENT_FORMAT_UNSUPPORTED';

export class AgentError extends SwitchboardError {
  readonly retryable: boolean;
  /** For AGENT_CREDENTIAL_INVALID: the credential field that was rejected. */
  readonly field?: string;

  constructor(
    code: AgentErrorCode,
    message: string,
    options: { retryable?: boolean; field?: string; cause?: unknown } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? false;
    if (options.field !== undefined) this.field = options.field;
  }
}
