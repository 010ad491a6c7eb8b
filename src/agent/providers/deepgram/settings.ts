/**
 * Builds the Deepgram Voice Agent `Settings` message (docs/reference/providers-2.md §7.2) from AgentOptions and
 * the credential. Pure.
 *
 * How a Switchboard profile maps onto Deepgram's three stages:
 * - listen: `credential.listenModel` (default `nova-3`), Deepgram STT; `credential.language` on listen.
 * - think:  `credential.thinkProvider` (default `open_ai`) with the profile's `model` (default `gpt-4o-mini`),
 *           `instructions` as `prompt`, `temperature`, and the profile's tools as client-side `functions`.
 * - speak:  Deepgram Aura with the profile's `voice` as the TTS model (default `aura-2-thalia-en`).
 * The profile's greeting is not `agent.greeting` (that text is spoken verbatim the moment SettingsApplied is
 * sent, before the call's first RTP): greet() injects it as a user message, like Gemini's greeting.
 * Of options.vad only transcription's language and model are mapped (listen.provider): Deepgram v1 listen has
 * no VAD settings, Flux end-of-turn thresholds are not exposed, and transcription cannot be off (it is the
 * agent's ear); capabilities.turn says so, so the dialplan loader refuses the rest. Not mapped either:
 * options.interruptions (the server always interrupts itself on UserStartedSpeaking, so the provider
 * declares no serverInterruptions).
 */
import type { AgentOptions, ConversationTurn, ToolSpec } from '../../agent.js';
import type { AudioFormat } from '../../events.js';
import type { DeepgramFunction, DeepgramHistoryMessage, DeepgramSettings } from './schemas.js';

export const DEFAULT_LISTEN_MODEL = 'nova-3';
export const DEFAULT_THINK_PROVIDER = 'open_ai';
export const DEFAULT_THINK_MODEL = 'gpt-4o-mini';
export const DEFAULT_SPEAK_MODEL = 'aura-2-thalia-en';

/** The credential fields that shape Settings (apiKey and url only shape the connection). */
export interface DeepgramSettingsCredential {
  readonly listenModel?: string | undefined;
  readonly thinkProvider?: string | undefined;
  readonly language?: string | undefined;
}

/** Our AudioFormat as Deepgram's `{encoding, sample_rate}`: μ-law/A-law 8 kHz are native both ways [D1]. */
export function deepgramEncoding(format: AudioFormat): {
  encoding: 'mulaw' | 'alaw' | 'linear16';
  sample_rate: number;
} {
  const encoding = format.encoding === 'pcmu' ? 'mulaw' : format.encoding === 'pcma' ? 'alaw' : 'linear16';
  return { encoding, sample_rate: format.sampleRateHz };
}

export function buildSettings(
  options: AgentOptions,
  credential: DeepgramSettingsCredential,
  instructions: string | undefined,
  history: readonly ConversationTurn[],
): DeepgramSettings {
  // turn.transcription (issue 14) is Deepgram's listen stage: its language and model win over the credential's.
  const language = options.vad?.transcription?.language ?? credential.language;
  const listenModel = options.vad?.transcription?.model ?? credential.listenModel ?? DEFAULT_LISTEN_MODEL;
  const thinkProvider: { type: string; model: string; temperature?: number } = {
    type: credential.thinkProvider ?? DEFAULT_THINK_PROVIDER,
    model: options.model ?? DEFAULT_THINK_MODEL,
  };
  if (options.temperature !== undefined) thinkProvider.temperature = options.temperature;
  const think: NonNullable<DeepgramSettings['agent']['think']> = { provider: thinkProvider };
  if (instructions !== undefined && instructions !== '') think.prompt = instructions;
  if (options.tools !== undefined && options.tools.length > 0)
    think.functions = options.tools.map(toFunction);
  const settings: DeepgramSettings = {
    type: 'Settings',
    audio: {
      input: deepgramEncoding(options.inputFormat),
      // `container: none`: raw frames, no WAV header on the first chunk [D1].
      output: { ...deepgramEncoding(options.outputFormat), container: 'none' },
    },
    agent: {
      listen: {
        provider: {
          type: 'deepgram',
          model: listenModel,
          ...(language !== undefined ? { language } : {}),
        },
      },
      think,
      speak: { provider: { type: 'deepgram', model: options.voice ?? DEFAULT_SPEAK_MODEL } },
    },
  };
  if (history.length > 0) settings.agent.context = { messages: history.map(toHistory) };
  return settings;
}

/** A client-side function (no `endpoint`): Deepgram sends FunctionCallRequest{client_side:true} [D1]. */
export function toFunction(tool: ToolSpec): DeepgramFunction {
  return { name: tool.name, description: tool.description, parameters: { ...tool.parameters } };
}

function toHistory(turn: ConversationTurn): DeepgramHistoryMessage {
  return { type: 'History', role: turn.role, content: turn.text };
}
