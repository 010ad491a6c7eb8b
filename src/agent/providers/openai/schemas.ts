/**
 * zod schemas for the OpenAI Realtime server events this adapter acts on, GA and beta names alike
 * (docs/reference/providers.md §1). Schemas are loose: unknown fields are kept, and unknown event types
 * are reported as `known: false` so the adapter logs them at debug instead of throwing (STYLE.md §5).
 */
import { z } from 'zod';

const id = z.string();
const nullableString = z.string().nullable().optional();

/** A conversation item as the server describes it (message, function_call, function_call_output, …). */
export const itemSchema = z.looseObject({
  id: z.string().optional(),
  type: z.string(),
  role: z.string().optional(),
  status: z.string().optional(),
  call_id: z.string().optional(),
  name: z.string().optional(),
  /** function_call arguments: a JSON string [S1]. */
  arguments: z.string().optional(),
  content: z.array(z.looseObject({ type: z.string() })).optional(),
});
export type ServerItem = z.infer<typeof itemSchema>;

export const usageSchema = z.looseObject({
  total_tokens: z.number().optional(),
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
  input_token_details: z.looseObject({ audio_tokens: z.number().optional() }).nullable().optional(),
  output_token_details: z.looseObject({ audio_tokens: z.number().optional() }).nullable().optional(),
});

const responseSchema = z.looseObject({
  id,
  status: z.string(),
  status_details: z.unknown().optional(),
  output: z.array(itemSchema).optional(),
  usage: usageSchema.nullable().optional(),
});

const audioDelta = z.looseObject({
  response_id: id,
  item_id: id,
  output_index: z.number().optional(),
  delta: z.string(),
});
const audioDone = z.looseObject({ response_id: id, item_id: id });
const textDelta = z.looseObject({ response_id: id, item_id: id, delta: z.string() });
const transcriptDone = z.looseObject({ response_id: id, item_id: id, transcript: z.string() });
const textDone = z.looseObject({ response_id: id, item_id: id, text: z.string() });
const itemEvent = z.looseObject({ previous_item_id: nullableString, item: itemSchema });

/**
 * Every server event type the adapter understands, by wire name. GA names first; beta aliases map to the
 * same schema (providers.md §1.4 table).
 */
export const serverEventSchemas = {
  'session.created': z.looseObject({ session: z.looseObject({ id: z.string().optional() }) }),
  'session.updated': z.looseObject({ session: z.looseObject({ id: z.string().optional() }) }),
  error: z.looseObject({
    error: z.looseObject({
      type: z.string().optional(),
      code: nullableString,
      message: z.string(),
      param: nullableString,
      event_id: nullableString,
    }),
  }),
  'input_audio_buffer.speech_started': z.looseObject({ audio_start_ms: z.number(), item_id: id }),
  'input_audio_buffer.speech_stopped': z.looseObject({ audio_end_ms: z.number(), item_id: id }),
  'input_audio_buffer.committed': z.looseObject({ item_id: id, previous_item_id: nullableString }),
  'conversation.item.added': itemEvent,
  'conversation.item.done': itemEvent,
  'conversation.item.created': itemEvent,
  'conversation.item.truncated': z.looseObject({
    item_id: id,
    content_index: z.number(),
    audio_end_ms: z.number(),
  }),
  'conversation.item.input_audio_transcription.delta': z.looseObject({ item_id: id, delta: z.string() }),
  'conversation.item.input_audio_transcription.completed': z.looseObject({
    item_id: id,
    transcript: z.string(),
  }),
  'conversation.item.input_audio_transcription.failed': z.looseObject({ item_id: id, error: z.unknown() }),
  'response.created': z.looseObject({ response: responseSchema }),
  'response.done': z.looseObject({ response: responseSchema }),
  'response.output_item.added': z.looseObject({
    response_id: id,
    output_index: z.number(),
    item: itemSchema,
  }),
  'response.output_item.done': z.looseObject({ response_id: id, output_index: z.number(), item: itemSchema }),
  'response.content_part.added': z.looseObject({
    response_id: id,
    item_id: id,
    part: z.looseObject({ type: z.string() }),
  }),
  'response.content_part.done': z.looseObject({
    response_id: id,
    item_id: id,
    part: z.looseObject({ type: z.string() }),
  }),
  'response.output_audio.delta': audioDelta,
  'response.audio.delta': audioDelta,
  'response.output_audio.done': audioDone,
  'response.audio.done': audioDone,
  'response.output_audio_transcript.delta': textDelta,
  'response.audio_transcript.delta': textDelta,
  'response.output_audio_transcript.done': transcriptDone,
  'response.audio_transcript.done': transcriptDone,
  'response.output_text.delta': textDelta,
  'response.text.delta': textDelta,
  'response.output_text.done': textDone,
  'response.text.done': textDone,
  'response.function_call_arguments.delta': z.looseObject({ call_id: id, delta: z.string() }),
  'response.function_call_arguments.done': z.looseObject({
    response_id: id,
    item_id: id,
    call_id: id,
    name: z.string(),
    arguments: z.string(),
  }),
  'rate_limits.updated': z.looseObject({ rate_limits: z.array(z.looseObject({ name: z.string() })) }),
} as const;

export type ServerEventType = keyof typeof serverEventSchemas;
export type ServerEvent<T extends ServerEventType> = z.infer<(typeof serverEventSchemas)[T]> & {
  readonly type: T;
};
/** The union of every known server event, discriminated by `type`. */
export type AnyServerEvent = { [T in ServerEventType]: ServerEvent<T> }[ServerEventType];

/** A parsed server frame: a known event, a known type that failed its schema, or an unknown type. */
export type ParsedServerEvent =
  | { readonly kind: 'known'; readonly event: AnyServerEvent }
  | { readonly kind: 'malformed'; readonly type: string; readonly issues: string }
  | { readonly kind: 'unknown'; readonly type: string };

const envelopeSchema = z.looseObject({ type: z.string() });

function isKnownType(type: string): type is ServerEventType {
  return Object.hasOwn(serverEventSchemas, type);
}

/** Parse one JSON-decoded server frame. Never throws. */
export function parseServerEvent(raw: unknown): ParsedServerEvent {
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) return { kind: 'malformed', type: '', issues: envelope.error.message };
  const type = envelope.data.type;
  if (!isKnownType(type)) return { kind: 'unknown', type };
  const parsed = serverEventSchemas[type].safeParse(raw);
  if (!parsed.success) return { kind: 'malformed', type, issues: parsed.error.message };
  // The schema was selected by `type`, so the parsed value is that member of the union.
  return { kind: 'known', event: { ...parsed.data, type } as AnyServerEvent };
}
