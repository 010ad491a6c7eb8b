/**
 * Gemini Live (BidiGenerateContent) wire schemas, docs/reference/providers.md §2.
 *
 * Client messages are strict: the server parses them as proto3 JSON and rejects unknown fields, so the mock
 * uses these schemas to catch adapter mistakes. Server messages are loose: new fields appear without notice
 * and must be tolerated (STYLE.md §5). Field sets follow js-genai `src/types.ts` [G2] and the recorded
 * frames in test/fixtures/providers/gemini-live/ [G4].
 */
import { z } from 'zod';

// ----------------------------------------------------------------------------------------------- shared

/** A base64 media chunk: `{data, mimeType}` [G4]. */
export const blobSchema = z.strictObject({ data: z.base64(), mimeType: z.string() });

/** OpenAPI-style schema types used in function declarations (upper case on the wire [G4]). */
export const schemaTypeSchema = z.enum([
  'TYPE_UNSPECIFIED',
  'STRING',
  'NUMBER',
  'INTEGER',
  'BOOLEAN',
  'ARRAY',
  'OBJECT',
  'NULL',
]);

/** The OpenAPI subset Gemini accepts for tool parameters [G2 `Schema`]. */
export interface GeminiSchema {
  type?: z.infer<typeof schemaTypeSchema> | undefined;
  format?: string | undefined;
  title?: string | undefined;
  description?: string | undefined;
  nullable?: boolean | undefined;
  enum?: string[] | undefined;
  properties?: Record<string, GeminiSchema> | undefined;
  required?: string[] | undefined;
  propertyOrdering?: string[] | undefined;
  items?: GeminiSchema | undefined;
  anyOf?: GeminiSchema[] | undefined;
  minItems?: string | number | undefined;
  maxItems?: string | number | undefined;
  minimum?: number | undefined;
  maximum?: number | undefined;
  minLength?: string | number | undefined;
  maxLength?: string | number | undefined;
  pattern?: string | undefined;
  example?: unknown;
  default?: unknown;
}

export const geminiSchemaSchema: z.ZodType<GeminiSchema> = z.lazy(() =>
  z.strictObject({
    type: schemaTypeSchema.optional(),
    format: z.string().optional(),
    title: z.string().optional(),
    description: z.string().optional(),
    nullable: z.boolean().optional(),
    enum: z.array(z.string()).optional(),
    properties: z.record(z.string(), geminiSchemaSchema).optional(),
    required: z.array(z.string()).optional(),
    propertyOrdering: z.array(z.string()).optional(),
    items: geminiSchemaSchema.optional(),
    anyOf: z.array(geminiSchemaSchema).optional(),
    minItems: z.union([z.string(), z.number()]).optional(),
    maxItems: z.union([z.string(), z.number()]).optional(),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    minLength: z.union([z.string(), z.number()]).optional(),
    maxLength: z.union([z.string(), z.number()]).optional(),
    pattern: z.string().optional(),
    example: z.unknown().optional(),
    default: z.unknown().optional(),
  }),
);

const partSchema = z.strictObject({
  text: z.string().optional(),
  inlineData: blobSchema.optional(),
  thought: z.boolean().optional(),
});

export const contentSchema = z.strictObject({
  role: z.enum(['user', 'model']).optional(),
  parts: z.array(partSchema),
});

// ----------------------------------------------------------------------------------------------- client

const functionDeclarationSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  parameters: geminiSchemaSchema.optional(),
  behavior: z.enum(['UNSPECIFIED', 'BLOCKING', 'NON_BLOCKING']).optional(),
});

const toolSchema = z.strictObject({
  functionDeclarations: z.array(functionDeclarationSchema).optional(),
  googleSearch: z.strictObject({}).optional(),
  codeExecution: z.strictObject({}).optional(),
});

const sensitivity = (kind: 'START' | 'END') =>
  z.enum([`${kind}_SENSITIVITY_UNSPECIFIED`, `${kind}_SENSITIVITY_HIGH`, `${kind}_SENSITIVITY_LOW`]);

export const realtimeInputConfigSchema = z.strictObject({
  automaticActivityDetection: z
    .strictObject({
      disabled: z.boolean().optional(),
      startOfSpeechSensitivity: sensitivity('START').optional(),
      endOfSpeechSensitivity: sensitivity('END').optional(),
      prefixPaddingMs: z.number().int().nonnegative().optional(),
      silenceDurationMs: z.number().int().nonnegative().optional(),
    })
    .optional(),
  activityHandling: z
    .enum(['ACTIVITY_HANDLING_UNSPECIFIED', 'START_OF_ACTIVITY_INTERRUPTS', 'NO_INTERRUPTION'])
    .optional(),
  turnCoverage: z
    .enum(['TURN_COVERAGE_UNSPECIFIED', 'TURN_INCLUDES_ONLY_ACTIVITY', 'TURN_INCLUDES_ALL_INPUT'])
    .optional(),
});

/** int64 values travel as decimal strings in proto3 JSON (`triggerTokens` [G2]). */
const int64 = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]);

export const setupSchema = z.strictObject({
  model: z.string().min(1),
  generationConfig: z
    .strictObject({
      responseModalities: z.array(z.enum(['TEXT', 'AUDIO', 'IMAGE'])).optional(),
      // speechConfig sits inside generationConfig on the wire [G3].
      speechConfig: z
        .strictObject({
          voiceConfig: z
            .strictObject({ prebuiltVoiceConfig: z.strictObject({ voiceName: z.string() }) })
            .optional(),
          languageCode: z.string().optional(),
        })
        .optional(),
      temperature: z.number().optional(),
      topP: z.number().optional(),
      topK: z.number().optional(),
      maxOutputTokens: z.number().int().optional(),
      candidateCount: z.number().int().optional(),
      presencePenalty: z.number().optional(),
      frequencyPenalty: z.number().optional(),
      seed: z.number().int().optional(),
      mediaResolution: z.string().optional(),
      enableAffectiveDialog: z.boolean().optional(),
    })
    .optional(),
  systemInstruction: contentSchema.optional(),
  tools: z.array(toolSchema).optional(),
  realtimeInputConfig: realtimeInputConfigSchema.optional(),
  sessionResumption: z
    .strictObject({ handle: z.string().optional(), transparent: z.boolean().optional() })
    .optional(),
  contextWindowCompression: z
    .strictObject({
      triggerTokens: int64.optional(),
      slidingWindow: z.strictObject({ targetTokens: int64.optional() }).optional(),
    })
    .optional(),
  // `languageCodes[]` (omit = auto), `customVocabulary[]` [G1] (providers-2.md §3.2).
  inputAudioTranscription: z
    .strictObject({
      languageCodes: z.array(z.string().min(1)).optional(),
      customVocabulary: z.array(z.string().min(1)).optional(),
    })
    .optional(),
  outputAudioTranscription: z.strictObject({}).optional(),
  proactivity: z.strictObject({ proactiveAudio: z.boolean().optional() }).optional(),
});

export const clientContentSchema = z.strictObject({
  turns: z.array(contentSchema).optional(),
  turnComplete: z.boolean().optional(),
});

export const realtimeInputSchema = z
  .strictObject({
    audio: blobSchema.optional(),
    // Legacy form, still in the SDK recordings [G4].
    mediaChunks: z.array(blobSchema).optional(),
    video: blobSchema.optional(),
    text: z.string().optional(),
    audioStreamEnd: z.boolean().optional(),
    activityStart: z.strictObject({}).optional(),
    activityEnd: z.strictObject({}).optional(),
  })
  .refine((r) => Object.keys(r).length === 1, 'realtimeInput carries exactly one field');

export const functionResponseSchema = z.strictObject({
  // Vertex recordings omit `id` [G4]; the Gemini API needs it to match a call.
  id: z.string().optional(),
  name: z.string().optional(),
  // `response` must be a JSON object [G4].
  response: z.record(z.string(), z.unknown()),
  willContinue: z.boolean().optional(),
  scheduling: z.enum(['SCHEDULING_UNSPECIFIED', 'SILENT', 'WHEN_IDLE', 'INTERRUPT']).optional(),
});

export const toolResponseSchema = z.strictObject({ functionResponses: z.array(functionResponseSchema) });

/** Every client→server frame carries exactly one of these top-level keys. */
export const clientMessageSchema = z.union([
  z.strictObject({ setup: setupSchema }),
  z.strictObject({ clientContent: clientContentSchema }),
  z.strictObject({ realtimeInput: realtimeInputSchema }),
  z.strictObject({ toolResponse: toolResponseSchema }),
]);

export type GeminiSetup = z.infer<typeof setupSchema>;
export type GeminiClientMessage = z.infer<typeof clientMessageSchema>;
export type GeminiFunctionDeclaration = z.infer<typeof functionDeclarationSchema>;

// ----------------------------------------------------------------------------------------------- server

const serverPartSchema = z.looseObject({
  text: z.string().optional(),
  inlineData: z.looseObject({ data: z.string().optional(), mimeType: z.string().optional() }).optional(),
  thought: z.boolean().optional(),
});

const transcriptionSchema = z.looseObject({ text: z.string().optional(), finished: z.boolean().optional() });

export const serverContentSchema = z.looseObject({
  modelTurn: z
    .looseObject({ role: z.string().optional(), parts: z.array(serverPartSchema).optional() })
    .optional(),
  turnComplete: z.boolean().optional(),
  interrupted: z.boolean().optional(),
  generationComplete: z.boolean().optional(),
  inputTranscription: transcriptionSchema.optional(),
  outputTranscription: transcriptionSchema.optional(),
  turnCompleteReason: z.string().optional(),
  waitingForInput: z.boolean().optional(),
});

const tokenDetailsSchema = z.array(
  z.looseObject({ modality: z.string().optional(), tokenCount: z.number().optional() }),
);

export const usageMetadataSchema = z.looseObject({
  promptTokenCount: z.number().optional(),
  responseTokenCount: z.number().optional(),
  totalTokenCount: z.number().optional(),
  promptTokensDetails: tokenDetailsSchema.optional(),
  responseTokensDetails: tokenDetailsSchema.optional(),
});

export const serverMessageSchema = z.looseObject({
  setupComplete: z.looseObject({ sessionId: z.string().optional() }).optional(),
  serverContent: serverContentSchema.optional(),
  toolCall: z
    .looseObject({
      functionCalls: z
        .array(
          z.looseObject({
            id: z.string().optional(),
            name: z.string(),
            // `args` is a JSON object, not a string [G4].
            args: z.record(z.string(), z.unknown()).optional(),
          }),
        )
        .optional(),
    })
    .optional(),
  toolCallCancellation: z.looseObject({ ids: z.array(z.string()).optional() }).optional(),
  usageMetadata: usageMetadataSchema.optional(),
  goAway: z.looseObject({ timeLeft: z.string().optional() }).optional(),
  sessionResumptionUpdate: z
    .looseObject({
      newHandle: z.string().optional(),
      resumable: z.boolean().optional(),
      lastConsumedClientMessageIndex: z.string().optional(),
    })
    .optional(),
});

export type GeminiServerMessage = z.infer<typeof serverMessageSchema>;
export type GeminiUsageMetadata = z.infer<typeof usageMetadataSchema>;

/** The top-level key of a client frame, as the mock records it ('setup', 'realtimeInput', …). */
export function clientMessageType(message: unknown): string {
  if (typeof message !== 'object' || message === null) return 'invalid';
  const keys = Object.keys(message);
  return keys.length === 1 ? keys[0]! : keys.length === 0 ? 'empty' : keys.join('+');
}
