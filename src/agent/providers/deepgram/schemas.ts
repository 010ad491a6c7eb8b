/**
 * Deepgram Voice Agent API v1 wire schemas, docs/reference/providers-2.md §7 and providers.md §4.3: JSON
 * control messages in text frames, audio as raw bytes in binary frames both ways [D1][D3].
 *
 * Client messages are strict (the mock uses them to catch adapter mistakes); server messages are loose and
 * parsed only for the types the adapter acts on, everything else (LatencyReport, …) is tolerated.
 */
import { z } from 'zod';

// ----------------------------------------------------------------------------------------------- client

/** `audio.input.encoding` values [D1]; the adapter only sends mulaw, alaw and linear16. */
const inputEncoding = z.enum([
  'linear16',
  'linear32',
  'flac',
  'alaw',
  'mulaw',
  'amr-nb',
  'amr-wb',
  'opus',
  'ogg-opus',
  'speex',
  'g729',
]);
const outputEncoding = z.enum(['linear16', 'mulaw', 'alaw', 'mp3', 'opus', 'flac', 'aac']);

/** A listen/think/speak provider object: `type` plus provider-specific fields (model, language, …) [D1]. */
const providerObject = z.looseObject({ type: z.string().min(1) });

export const deepgramFunctionSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  /** Server-side functions only; the adapter never sends it (all Switchboard tools run on our side). */
  endpoint: z.looseObject({ url: z.string() }).optional(),
});

const thinkSettings = z.strictObject({
  provider: providerObject,
  endpoint: z.looseObject({ url: z.string() }).optional(),
  prompt: z.string().optional(),
  functions: z.array(deepgramFunctionSchema).optional(),
  context_length: z.union([z.number().int().positive(), z.literal('max')]).optional(),
});
const speakSettings = z.strictObject({
  provider: providerObject,
  endpoint: z.looseObject({ url: z.string() }).optional(),
});

/** `agent.context.messages[]`: prior turns as `{type:'History', role, content}` [D1 OpenAPI schema]. */
export const historyMessageSchema = z.strictObject({
  type: z.literal('History'),
  role: z.enum(['user', 'assistant']),
  content: z.string(),
});

export const settingsSchema = z.strictObject({
  type: z.literal('Settings'),
  tags: z.array(z.string()).optional(),
  mip_opt_out: z.boolean().optional(),
  experimental: z.boolean().optional(),
  flags: z.strictObject({ history: z.boolean().optional() }).optional(),
  audio: z.strictObject({
    input: z.strictObject({ encoding: inputEncoding, sample_rate: z.number().int().positive() }),
    output: z.strictObject({
      encoding: outputEncoding,
      sample_rate: z.number().int().positive().optional(),
      bitrate: z.number().int().positive().optional(),
      container: z.enum(['none', 'wav', 'ogg']).optional(),
    }),
  }),
  agent: z.strictObject({
    language: z.string().optional(),
    listen: z.strictObject({ provider: providerObject }).optional(),
    // One provider, or an array of fallbacks (recorded: two speak entries) [D1][D2].
    think: z.union([thinkSettings, z.array(thinkSettings).min(1)]).optional(),
    speak: z.union([speakSettings, z.array(speakSettings).min(1)]).optional(),
    greeting: z.string().optional(),
    context: z.strictObject({ messages: z.array(historyMessageSchema) }).optional(),
  }),
});

export const clientMessageSchema = z.discriminatedUnion('type', [
  settingsSchema,
  z.strictObject({ type: z.literal('KeepAlive') }),
  z.strictObject({
    type: z.literal('FunctionCallResponse'),
    id: z.string().min(1),
    name: z.string().min(1),
    content: z.string(),
  }),
  z.strictObject({ type: z.literal('InjectUserMessage'), content: z.string().min(1) }),
  z.strictObject({
    type: z.literal('InjectAgentMessage'),
    message: z.string().min(1),
    behavior: z.enum(['default', 'queue', 'interrupt']).optional(),
  }),
  z.strictObject({ type: z.literal('UpdatePrompt'), prompt: z.string() }),
  z.strictObject({ type: z.literal('UpdateSpeak'), speak: speakSettings }),
  z.strictObject({ type: z.literal('UpdateThink'), think: thinkSettings }),
]);

export type DeepgramClientMessage = z.infer<typeof clientMessageSchema>;
export type DeepgramSettings = z.infer<typeof settingsSchema>;
export type DeepgramHistoryMessage = z.infer<typeof historyMessageSchema>;
export type DeepgramFunction = z.infer<typeof deepgramFunctionSchema>;

// ----------------------------------------------------------------------------------------------- server

const functionRequestSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string().min(1),
  /** A JSON **string** (recorded) [D2]. */
  arguments: z.string(),
  client_side: z.boolean(),
});

/** The server messages the adapter acts on, by type. Anything else is tolerated and logged at debug. */
export const serverMessageSchemas = {
  Welcome: z.looseObject({ request_id: z.string().optional() }),
  SettingsApplied: z.looseObject({}),
  ConversationText: z.looseObject({ role: z.enum(['user', 'assistant']), content: z.string() }),
  UserStartedSpeaking: z.looseObject({}),
  AgentThinking: z.looseObject({ content: z.string().optional() }),
  AgentStartedSpeaking: z.looseObject({
    total_latency: z.number().optional(),
    tts_latency: z.number().optional(),
    ttt_latency: z.number().optional(),
  }),
  AgentAudioDone: z.looseObject({}),
  FunctionCallRequest: z.looseObject({ functions: z.array(functionRequestSchema) }),
  /** Only for server-side functions (the server ran it and reports the result) [D1]. */
  FunctionCallResponse: z.looseObject({
    id: z.string().optional(),
    name: z.string().optional(),
    content: z.string().optional(),
  }),
  History: z.looseObject({}),
  EndOfThought: z.looseObject({}),
  PromptUpdated: z.looseObject({}),
  SpeakUpdated: z.looseObject({}),
  ThinkUpdated: z.looseObject({}),
  InjectionRefused: z.looseObject({ message: z.string().optional() }),
  Warning: z.looseObject({ description: z.string().optional(), code: z.string().optional() }),
  Error: z.looseObject({
    description: z.string().optional(),
    message: z.string().optional(),
    code: z.string().optional(),
  }),
} as const;

export type DeepgramServerType = keyof typeof serverMessageSchemas;
export type DeepgramServerMessage<T extends DeepgramServerType> = z.infer<(typeof serverMessageSchemas)[T]>;

export function isKnownServerMessage(type: string): type is DeepgramServerType {
  return Object.hasOwn(serverMessageSchemas, type);
}
