/**
 * DashScope Qwen-Omni-Realtime wire schemas, docs/reference/providers.md §3: an OpenAI-**beta**-style
 * protocol (flat session fields, `response.audio.delta`) with Chat-Completions-style nested tools [Q1][Q2].
 *
 * Client events are strict (the mock uses them to catch adapter mistakes); server events are loose and
 * parsed only for the types the adapter acts on, everything else is tolerated.
 */
import { z } from 'zod';

// ----------------------------------------------------------------------------------------------- client

const eventId = z.string().optional();

/** Nested, Chat-Completions style: `{type:'function', function:{name, description, parameters}}` [Q1]. */
export const qwenToolSchema = z.strictObject({
  type: z.literal('function'),
  function: z.strictObject({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

export const turnDetectionSchema = z.strictObject({
  type: z.enum(['server_vad', 'semantic_vad']),
  // SDK ranges [Q2]: threshold [-1, 1], silence_duration_ms [200, 6000].
  threshold: z.number().min(-1).max(1).optional(),
  prefix_padding_ms: z.number().int().nonnegative().optional(),
  silence_duration_ms: z.number().int().min(200).max(6000).optional(),
  create_response: z.boolean().optional(),
  interrupt_response: z.boolean().optional(),
});

export const sessionConfigSchema = z.strictObject({
  // ['text'] or ['text','audio'] only; ['audio'] alone is rejected [Q1].
  modalities: z
    .array(z.enum(['text', 'audio']))
    .refine(
      (m) => m.includes('text') && new Set(m).size === m.length,
      'modalities must be ["text"] or ["text","audio"]',
    )
    .optional(),
  voice: z.string().optional(),
  instructions: z.string().optional(),
  // 2025 docs: input pcm16, output pcm24; 2026 docs: "pcm"; the SDK sends "pcm16" for both [Q1][Q2].
  input_audio_format: z.enum(['pcm16', 'pcm']).optional(),
  output_audio_format: z.enum(['pcm24', 'pcm16', 'pcm']).optional(),
  input_audio_transcription: z.strictObject({ model: z.string() }).nullable().optional(),
  turn_detection: turnDetectionSchema.nullable().optional(),
  tools: z.array(qwenToolSchema).optional(),
  tool_choice: z.string().optional(),
  enable_search: z.boolean().optional(),
});

const functionCallOutputItem = z.strictObject({
  id: z.string().optional(),
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: z.string(),
});

const messageItem = z.strictObject({
  id: z.string().optional(),
  type: z.literal('message'),
  role: z.enum(['user', 'system']),
  content: z.array(z.strictObject({ type: z.literal('input_text'), text: z.string() })),
});

export const clientEventSchema = z.discriminatedUnion('type', [
  z.strictObject({ event_id: eventId, type: z.literal('session.update'), session: sessionConfigSchema }),
  z.strictObject({ event_id: eventId, type: z.literal('input_audio_buffer.append'), audio: z.base64() }),
  z.strictObject({ event_id: eventId, type: z.literal('input_audio_buffer.commit') }),
  z.strictObject({ event_id: eventId, type: z.literal('input_audio_buffer.clear') }),
  z.strictObject({ event_id: eventId, type: z.literal('input_image_buffer.append'), image: z.base64() }),
  z.strictObject({
    event_id: eventId,
    type: z.literal('response.create'),
    response: z
      .strictObject({
        instructions: z.string().optional(),
        modalities: z.array(z.enum(['text', 'audio'])).optional(),
      })
      .optional(),
  }),
  z.strictObject({ event_id: eventId, type: z.literal('response.cancel') }),
  z.strictObject({
    event_id: eventId,
    type: z.literal('conversation.item.create'),
    item: z.discriminatedUnion('type', [functionCallOutputItem, messageItem]),
  }),
  z.strictObject({ event_id: eventId, type: z.literal('session.finish') }),
]);

export type QwenClientEvent = z.infer<typeof clientEventSchema>;
export type QwenSessionConfig = z.infer<typeof sessionConfigSchema>;

// ----------------------------------------------------------------------------------------------- server

const usageSchema = z.looseObject({
  total_tokens: z.number().optional(),
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
  input_token_details: z.looseObject({ audio_tokens: z.number().optional() }).optional(),
  output_token_details: z.looseObject({ audio_tokens: z.number().optional() }).optional(),
});

const itemSchema = z.looseObject({
  id: z.string().optional(),
  type: z.string().optional(),
  call_id: z.string().optional(),
  name: z.string().optional(),
  arguments: z.string().optional(),
});

/** The server events the adapter acts on, by type. Anything else is tolerated and logged at debug. */
export const serverEventSchemas = {
  'session.created': z.looseObject({ session: z.looseObject({ id: z.string().optional() }).optional() }),
  'session.updated': z.looseObject({ session: z.looseObject({}).optional() }),
  'session.finished': z.looseObject({}),
  error: z.looseObject({
    error: z.looseObject({
      type: z.string().optional(),
      code: z.string().nullable().optional(),
      message: z.string().optional(),
      param: z.string().nullable().optional(),
    }),
  }),
  'input_audio_buffer.speech_started': z.looseObject({
    audio_start_ms: z.number().optional(),
    item_id: z.string().optional(),
  }),
  'input_audio_buffer.speech_stopped': z.looseObject({
    audio_end_ms: z.number().optional(),
    item_id: z.string().optional(),
  }),
  'conversation.item.input_audio_transcription.completed': z.looseObject({
    item_id: z.string().optional(),
    transcript: z.string(),
  }),
  'conversation.item.input_audio_transcription.delta': z.looseObject({
    item_id: z.string().optional(),
    delta: z.string().optional(),
    text: z.string().optional(),
  }),
  'response.created': z.looseObject({ response: z.looseObject({ id: z.string() }) }),
  'response.done': z.looseObject({
    response: z.looseObject({
      id: z.string(),
      status: z.string().optional(),
      usage: usageSchema.nullable().optional(),
    }),
  }),
  'response.audio.delta': z.looseObject({ response_id: z.string(), item_id: z.string(), delta: z.string() }),
  'response.audio_transcript.delta': z.looseObject({
    response_id: z.string(),
    item_id: z.string(),
    delta: z.string(),
  }),
  // UNVERIFIED names (by analogy with OpenAI beta [Q3]).
  'response.audio_transcript.done': z.looseObject({
    response_id: z.string(),
    item_id: z.string(),
    transcript: z.string(),
  }),
  'response.text.delta': z.looseObject({ response_id: z.string(), item_id: z.string(), delta: z.string() }),
  'response.text.done': z.looseObject({ response_id: z.string(), item_id: z.string(), text: z.string() }),
  'response.output_item.added': z.looseObject({ response_id: z.string().optional(), item: itemSchema }),
  'response.output_item.done': z.looseObject({ response_id: z.string().optional(), item: itemSchema }),
  // UNVERIFIED fields `call_id`, `name`, `arguments` (OpenAI beta) [Q3].
  'response.function_call_arguments.done': z.looseObject({
    call_id: z.string(),
    name: z.string().optional(),
    arguments: z.string(),
    item_id: z.string().optional(),
    response_id: z.string().optional(),
  }),
} as const;

export type QwenServerEventType = keyof typeof serverEventSchemas;
export type QwenServerEvent<T extends QwenServerEventType> = z.infer<(typeof serverEventSchemas)[T]>;
export type QwenUsage = z.infer<typeof usageSchema>;

export function isKnownServerEvent(type: string): type is QwenServerEventType {
  return Object.hasOwn(serverEventSchemas, type);
}
