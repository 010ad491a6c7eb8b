/**
 * Builds the Gemini Live `setup` message (docs/reference/providers.md §2.2) from AgentOptions. Pure.
 */
import type { AgentOptions, ToolSpec, VadSettings } from '../../agent.js';
import type { GeminiFunctionDeclaration, GeminiSchema, GeminiSetup } from './schemas.js';

export const DEFAULT_GEMINI_MODEL = 'models/gemini-live-2.5-flash-preview';

export interface SetupInputs {
  readonly model: string;
  readonly options: AgentOptions;
  /** Instructions as last set by updateInstructions(), else options.instructions. */
  readonly instructions: string | undefined;
  /** The latest resumable `sessionResumptionUpdate.newHandle`, when resuming. */
  readonly resumptionHandle: string | undefined;
  /** Sliding-window context compression: lifts the 15 min audio-only session limit [G6]. */
  readonly contextWindowCompression: boolean;
}

/** `models/<id>` unless the caller gave a full resource name (Vertex `projects/…/models/…`). */
export function modelResourceName(model: string): string {
  return model.includes('/') ? model : `models/${model}`;
}

export function buildSetup(inputs: SetupInputs): { setup: GeminiSetup } {
  const { options } = inputs;
  const setup: GeminiSetup = {
    model: modelResourceName(inputs.model),
    generationConfig: {
      responseModalities: ['AUDIO'],
      // speechConfig sits inside generationConfig on the wire [G3].
      ...(options.voice !== undefined
        ? { speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: options.voice } } } }
        : {}),
      ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
    },
    realtimeInputConfig: {
      automaticActivityDetection: automaticActivityDetection(options.vad),
      // The server cancels its own reply when the caller starts talking and sends `interrupted` [G2];
      // barge_in.enabled false (interruptions 'off', issue 14): the model keeps talking [G1].
      activityHandling: options.interruptions === 'off' ? 'NO_INTERRUPTION' : 'START_OF_ACTIVITY_INTERRUPTS',
    },
    // turn.transcription (issue 14): off leaves it out; a language becomes languageCodes (omitted = auto) [G1].
    ...(options.vad?.transcription?.enabled === false
      ? {}
      : {
          inputAudioTranscription:
            options.vad?.transcription?.language === undefined
              ? {}
              : { languageCodes: [options.vad.transcription.language] },
        }),
    outputAudioTranscription: {},
    // An empty object asks for resumption handles; a handle resumes the previous session [G2].
    sessionResumption: inputs.resumptionHandle !== undefined ? { handle: inputs.resumptionHandle } : {},
  };
  if (inputs.instructions !== undefined && inputs.instructions !== '') {
    setup.systemInstruction = { parts: [{ text: inputs.instructions }] };
  }
  if (options.tools !== undefined && options.tools.length > 0) {
    setup.tools = [{ functionDeclarations: options.tools.map(functionDeclaration) }];
  }
  if (inputs.contextWindowCompression) setup.contextWindowCompression = { slidingWindow: {} };
  return { setup };
}

type ActivityDetection = NonNullable<
  NonNullable<GeminiSetup['realtimeInputConfig']>['automaticActivityDetection']
>;

function automaticActivityDetection(vad: VadSettings | undefined): ActivityDetection {
  const out: ActivityDetection = { disabled: false };
  if (vad === undefined) return out;
  if (vad.silenceDurationMs !== undefined) out.silenceDurationMs = Math.round(vad.silenceDurationMs);
  if (vad.prefixPaddingMs !== undefined) out.prefixPaddingMs = Math.round(vad.prefixPaddingMs);
  // Gemini has two sensitivities rather than a threshold: a high OpenAI-style threshold means "harder to
  // trigger", i.e. low start sensitivity. The middle of the range keeps the server default.
  if (vad.threshold !== undefined) {
    if (vad.threshold >= 0.6) out.startOfSpeechSensitivity = 'START_SENSITIVITY_LOW';
    else if (vad.threshold <= 0.4) out.startOfSpeechSensitivity = 'START_SENSITIVITY_HIGH';
  }
  return out;
}

export function functionDeclaration(tool: ToolSpec): GeminiFunctionDeclaration {
  return { name: tool.name, description: tool.description, parameters: toGeminiSchema(tool.parameters) };
}

const TYPES: Record<string, NonNullable<GeminiSchema['type']>> = {
  string: 'STRING',
  number: 'NUMBER',
  integer: 'INTEGER',
  boolean: 'BOOLEAN',
  array: 'ARRAY',
  object: 'OBJECT',
  null: 'NULL',
};

/**
 * JSON Schema → the OpenAPI subset Gemini accepts: upper-case types as in the recorded setup [G4], a
 * `["x","null"]` type becomes `nullable`, and keywords Gemini does not know (`additionalProperties`,
 * `$schema`, …) are dropped, because the server rejects unknown fields.
 */
export function toGeminiSchema(json: Readonly<Record<string, unknown>>): GeminiSchema {
  const out: GeminiSchema = {};
  const type = json['type'];
  const types = Array.isArray(type) ? type.filter((t): t is string => typeof t === 'string') : [];
  if (typeof type === 'string') {
    const t = TYPES[type.toLowerCase()];
    if (t !== undefined) out.type = t;
  } else if (types.length > 0) {
    const nonNull = types.filter((t) => t !== 'null');
    const t = TYPES[(nonNull[0] ?? 'null').toLowerCase()];
    if (t !== undefined) out.type = t;
    if (nonNull.length < types.length) out.nullable = true;
  }
  for (const key of ['format', 'title', 'description', 'pattern'] as const) {
    const v = json[key];
    if (typeof v === 'string') out[key] = v;
  }
  for (const key of ['minimum', 'maximum'] as const) {
    const v = json[key];
    if (typeof v === 'number') out[key] = v;
  }
  for (const key of ['minItems', 'maxItems', 'minLength', 'maxLength'] as const) {
    const v = json[key];
    // int64 fields travel as strings in proto3 JSON.
    if (typeof v === 'number') out[key] = String(v);
  }
  if (typeof json['nullable'] === 'boolean') out.nullable = json['nullable'];
  if (Array.isArray(json['enum'])) out.enum = json['enum'].map(String);
  else if (typeof json['const'] === 'string' || typeof json['const'] === 'number')
    out.enum = [String(json['const'])];
  if (Array.isArray(json['required'])) out.required = json['required'].filter((r) => typeof r === 'string');
  const props = json['properties'];
  if (isRecord(props)) {
    out.properties = {};
    for (const [name, sub] of Object.entries(props))
      if (isRecord(sub)) out.properties[name] = toGeminiSchema(sub);
  }
  const items = json['items'];
  if (isRecord(items)) out.items = toGeminiSchema(items);
  const anyOf = json['anyOf'] ?? json['oneOf'];
  if (Array.isArray(anyOf)) out.anyOf = anyOf.filter(isRecord).map(toGeminiSchema);
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
