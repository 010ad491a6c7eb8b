/**
 * Builds the OpenAI Realtime `session.update` payload from AgentOptions, in the GA shape (nested
 * `audio.{input,output}`, `session.type: 'realtime'`) or the beta flat shape (providers.md §1.2).
 */
import type { AgentOptions, InterruptionMode, ToolSpec, VadSettings } from '../../agent.js';
import type { AudioFormat } from '../../events.js';
import type { TurnCapabilities } from '../../provider.js';

/** GA wire protocol, or the deprecated beta protocol (`OpenAI-Beta: realtime=v1`). */
export type Dialect = 'ga' | 'beta';

export type GaAudioFormat =
  { type: 'audio/pcm'; rate: 24000 } | { type: 'audio/pcmu' } | { type: 'audio/pcma' };
export type BetaAudioFormat = 'pcm16' | 'g711_ulaw' | 'g711_alaw';

/** The formats the API accepts: G.711 at 8 kHz (passed through untouched) and PCM16 at 24 kHz [S1]. */
export const OPENAI_AUDIO_FORMATS: readonly AudioFormat[] = [
  { encoding: 'pcmu', sampleRateHz: 8000 },
  { encoding: 'pcma', sampleRateHz: 8000 },
  { encoding: 'pcm16', sampleRateHz: 24000 },
];

/**
 * Turn settings of OpenAI and Azure (`audio.input.turn_detection`, `noise_reduction`, `transcription`) [S1]:
 * both VAD types, eagerness for semantic_vad, threshold/silence/prefix for server_vad.
 */
export const OPENAI_TURN: TurnCapabilities = {
  vad: ['server_vad', 'semantic_vad'],
  eagerness: true,
  threshold: true,
  silenceMs: { min: 0, max: 10_000 },
  prefixPaddingMs: true,
  noiseReduction: ['near_field', 'far_field'],
  transcription: { on: true, off: true, language: true, model: true },
};

export function isSupportedFormat(format: AudioFormat): boolean {
  return OPENAI_AUDIO_FORMATS.some(
    (f) => f.encoding === format.encoding && f.sampleRateHz === format.sampleRateHz,
  );
}

/** GA `{type:'audio/pcm', rate:24000}` | `{type:'audio/pcmu'}` | `{type:'audio/pcma'}` [S1]. */
export function toGaFormat(format: AudioFormat): GaAudioFormat {
  if (format.encoding === 'pcmu') return { type: 'audio/pcmu' };
  if (format.encoding === 'pcma') return { type: 'audio/pcma' };
  return { type: 'audio/pcm', rate: 24000 };
}

/** Beta `pcm16` | `g711_ulaw` | `g711_alaw` [S2][S6]. */
export function toBetaFormat(format: AudioFormat): BetaAudioFormat {
  if (format.encoding === 'pcmu') return 'g711_ulaw';
  if (format.encoding === 'pcma') return 'g711_alaw';
  return 'pcm16';
}

/** Bytes of audio per ms: 8 for G.711 8 kHz, 48 for PCM16 24 kHz (providers.md §1.6 step 3). */
export function bytesPerMs(format: AudioFormat): number {
  return format.encoding === 'pcm16' ? (format.sampleRateHz * 2) / 1000 : format.sampleRateHz / 1000;
}

/**
 * turn_detection for the interruption mode (providers.md §1.2) [S1][S5]:
 * - `provider`: the server answers and interrupts by itself (create_response/interrupt_response true), which
 *   is what lets the adapter skip response.cancel after a server-VAD barge-in.
 * - `server` (issue 14): neither. VAD events still arrive; the call layer decides whether the caller
 *   interrupted (then the adapter sends response.cancel + truncate) and whether an utterance is a turn at all:
 *   with create_response the server would answer a cough or a "mhm" said during the reply, so the adapter
 *   sends response.create itself when the call layer says a real turn ended (Agent.userTurn).
 * - `off` (barge_in.enabled false): the server still answers turns but never cancels a reply.
 */
export function turnDetection(
  vad: VadSettings | undefined,
  mode: InterruptionMode = 'provider',
): Record<string, unknown> {
  const flags = {
    create_response: mode !== 'server',
    interrupt_response: mode === 'provider',
  };
  if (vad?.type === 'semantic_vad') {
    return {
      type: 'semantic_vad',
      ...(vad.eagerness !== undefined && { eagerness: vad.eagerness }),
      ...flags,
    };
  }
  return {
    type: 'server_vad',
    ...(vad?.threshold !== undefined && { threshold: vad.threshold }),
    ...(vad?.prefixPaddingMs !== undefined && { prefix_padding_ms: vad.prefixPaddingMs }),
    ...(vad?.silenceDurationMs !== undefined && { silence_duration_ms: vad.silenceDurationMs }),
    ...flags,
  };
}

/** `noise_reduction` [S1]: `{type}` or `null` (off); absent from the profile: not sent (server default). */
function noiseReduction(vad: VadSettings | undefined): { noise_reduction?: { type: string } | null } {
  const nr = vad?.noiseReduction;
  if (nr === undefined) return {};
  return { noise_reduction: nr === 'off' ? null : { type: nr } };
}

/**
 * Input transcription [S1]: the profile's `turn.transcription` wins over the credential's model (Azure: a
 * deployment); `enabled: false` leaves it out (off is the API default). Without a profile setting the
 * credential decides, as before.
 */
function transcription(
  vad: VadSettings | undefined,
  credentialModel: string | undefined,
): { model?: string; language?: string } | undefined {
  const t = vad?.transcription;
  if (t === undefined) return credentialModel === undefined ? undefined : { model: credentialModel };
  if (!t.enabled) return undefined;
  const model = t.model ?? credentialModel;
  return {
    ...(model !== undefined && { model }),
    ...(t.language !== undefined && { language: t.language }),
  };
}

function toolsWire(tools: readonly ToolSpec[] | undefined): Record<string, unknown>[] {
  return (tools ?? []).map((t) => ({
    type: 'function',
    name: t.name,
    description: t.description,
    parameters: t.parameters,
  }));
}

export interface SessionExtras {
  readonly model: string;
  /** Input transcription model (OpenAI) or deployment (Azure); undefined = transcription off. */
  readonly transcriptionModel?: string | undefined;
  /** Instructions override (updateInstructions). */
  readonly instructions?: string | undefined;
}

/** The full session.update sent on connect and replayed on every reconnect. */
export function buildSessionUpdate(
  dialect: Dialect,
  options: AgentOptions,
  extras: SessionExtras,
): Record<string, unknown> {
  const instructions = extras.instructions ?? options.instructions;
  const tools = toolsWire(options.tools);
  const asr = transcription(options.vad, extras.transcriptionModel);
  const nr = noiseReduction(options.vad);
  if (dialect === 'beta') {
    return {
      type: 'session.update',
      session: {
        modalities: ['audio', 'text'],
        ...(instructions !== undefined && { instructions }),
        ...(options.voice !== undefined && { voice: options.voice }),
        input_audio_format: toBetaFormat(options.inputFormat),
        output_audio_format: toBetaFormat(options.outputFormat),
        ...(asr !== undefined && { input_audio_transcription: asr }),
        ...('noise_reduction' in nr && { input_audio_noise_reduction: nr.noise_reduction }),
        turn_detection: turnDetection(options.vad, options.interruptions),
        tools,
        tool_choice: 'auto',
        ...(options.temperature !== undefined && { temperature: options.temperature }),
      },
    };
  }
  // GA has no temperature [S1][S11]; it is ignored rather than sent (the server would reject it).
  return {
    type: 'session.update',
    session: {
      type: 'realtime',
      model: extras.model,
      output_modalities: ['audio'],
      ...(instructions !== undefined && { instructions }),
      audio: {
        input: {
          format: toGaFormat(options.inputFormat),
          ...nr,
          ...(asr !== undefined && { transcription: asr }),
          turn_detection: turnDetection(options.vad, options.interruptions),
        },
        output: {
          format: toGaFormat(options.outputFormat),
          ...(options.voice !== undefined && { voice: options.voice }),
        },
      },
      tools,
      tool_choice: 'auto',
    },
  };
}

/** A session.update that changes only the instructions (GA: only fields present are updated [S1]). */
export function buildInstructionsUpdate(dialect: Dialect, instructions: string): Record<string, unknown> {
  return dialect === 'beta'
    ? { type: 'session.update', session: { instructions } }
    : { type: 'session.update', session: { type: 'realtime', instructions } };
}
