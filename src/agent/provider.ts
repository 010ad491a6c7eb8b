import type { z } from 'zod';
import type WebSocket from 'ws';
import type { ClientOptions } from 'ws';
import type { Agent, AgentOptions } from './agent.js';
import type { AudioFormat } from './events.js';

/** What the call layer needs to know to skip transcoding and to choose barge-in behaviour. */
export interface ProviderCapabilities {
  /** Formats pushAudio() accepts, in order of preference (e.g. OpenAI: pcmu/pcma at 8 kHz, pcm16 at 24 kHz). */
  readonly inputFormats: readonly AudioFormat[];
  /** Formats 'assistant.audio' can be produced in, in order of preference. */
  readonly outputFormats: readonly AudioFormat[];
  /** The provider can be told how much of an item was heard (OpenAI conversation.item.truncate). */
  readonly truncate: boolean;
  /** The provider can call function tools. */
  readonly tools: boolean;
  /**
   * Full duplex: the model owns turn-taking and its replies cannot be cancelled or truncated (GPT-Live). The
   * call layer then never flushes or truncates on its own and forwards every caller frame (issue 15).
   */
  readonly duplex?: boolean;
  /**
   * The provider's automatic interruption can be switched off (AgentOptions.interruptions 'server'/'off'), so
   * the call layer decides barge-in itself (issue 14). Absent: the provider always interrupts by itself.
   */
  readonly serverInterruptions?: boolean;
  /** Which turn settings (AgentOptions.vad, profile `turn:`) the adapter maps; absent: none (issue 14). */
  readonly turn?: TurnCapabilities;
}

/**
 * The turn settings a provider honours, listed in GET /v1/providers and checked when a dialplan loads: a
 * setting outside these is a load error naming the field and the provider, never silently dropped.
 */
export interface TurnCapabilities {
  /** VAD types it accepts (`server_vad` also stands for a provider's only automatic detection). */
  readonly vad: readonly ('server_vad' | 'semantic_vad')[];
  /** semantic_vad eagerness. */
  readonly eagerness: boolean;
  readonly threshold: boolean;
  /** Silence that ends a turn, with the range the provider accepts; absent: not configurable. */
  readonly silenceMs?: { readonly min: number; readonly max: number };
  readonly prefixPaddingMs: boolean;
  /** Noise reduction modes besides `off` (always honoured: a provider without any has none to turn off). */
  readonly noiseReduction: readonly ('near_field' | 'far_field')[];
  /** Input transcription: can it be turned on, turned off, given a language, given a model. */
  readonly transcription: {
    readonly on: boolean;
    readonly off: boolean;
    readonly language: boolean;
    readonly model: boolean;
  };
}

/** Injected nondeterminism for adapters (STYLE.md §8). */
export interface AgentDeps {
  /** Opens a WebSocket; tests and the real service both use `ws`. Defaults to `new WebSocket(url, opts)`. */
  readonly webSocketFactory?: (url: string, options: ClientOptions) => WebSocket;
  readonly now?: () => number;
}

/**
 * One realtime provider: its credential schema (zod; `apiKey`, optional `url` override, its own fields),
 * its audio capabilities and a factory. Registered explicitly in a ProviderRegistry under one or more slugs.
 */
export interface ProviderDefinition<
  C extends { readonly url?: string | undefined } = { readonly url?: string | undefined },
> {
  /** Canonical slug, e.g. 'openai'. */
  readonly slug: string;
  readonly displayName: string;
  readonly credentialSchema: z.ZodType<C>;
  /** Names of credential fields that are secrets (masked on read, never logged). */
  readonly secretFields: readonly string[];
  readonly capabilities: ProviderCapabilities;
  create(credential: C, options: AgentOptions, deps: AgentDeps): Agent;
}
