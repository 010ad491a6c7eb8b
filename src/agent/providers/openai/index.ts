/**
 * The `openai` provider: OpenAI Realtime over WebSocket, GA by default, beta with `beta: true`
 * (docs/reference/providers.md §1).
 */
import { z } from 'zod';
import type { ProviderDefinition } from '../../provider.js';
import { OpenAIRealtimeAgent, type OpenAIConnection } from './realtime-agent.js';
import { OPENAI_AUDIO_FORMATS, OPENAI_TURN } from './session-config.js';

export { OpenAIRealtimeAgent, type OpenAIConnection } from './realtime-agent.js';

export const OPENAI_DEFAULT_URL = 'wss://api.openai.com/v1/realtime';
export const OPENAI_DEFAULT_MODEL = 'gpt-realtime';
/** Input transcription (needed for 'user.transcript'); off by default in the API [S1]. */
export const OPENAI_DEFAULT_TRANSCRIPTION_MODEL = 'gpt-4o-mini-transcribe';

const wsUrl = z.url({ protocol: /^wss?$/ });

export const openaiCredentialSchema = z.object({
  apiKey: z.string().min(1),
  /** Endpoint override (proxies, local mocks); `?model=` is appended unless present. */
  url: wsUrl.optional(),
  model: z.string().min(1).optional(),
  /** The deprecated beta protocol (`OpenAI-Beta: realtime=v1`, flat session fields). */
  beta: z.boolean().optional(),
  organization: z.string().min(1).optional(),
  project: z.string().min(1).optional(),
  /** Input transcription model; `null` turns transcription off. */
  transcriptionModel: z.string().min(1).nullable().optional(),
});
export type OpenAICredential = z.infer<typeof openaiCredentialSchema>;

/** URL, headers and dialect for a credential (exported for tests). */
export function openaiConnection(
  credential: OpenAICredential,
  optionsModel: string | undefined,
): OpenAIConnection {
  const model = credential.model ?? optionsModel ?? OPENAI_DEFAULT_MODEL;
  const url = new URL(credential.url ?? OPENAI_DEFAULT_URL);
  // The SDK appends exactly one of model=, call_id= or intent= [S3].
  if (!url.searchParams.has('model')) url.searchParams.set('model', model);
  const dialect = credential.beta === true ? 'beta' : 'ga';
  const headers: Record<string, string> = { Authorization: `Bearer ${credential.apiKey}` };
  if (dialect === 'beta') headers['OpenAI-Beta'] = 'realtime=v1';
  if (credential.organization !== undefined) headers['OpenAI-Organization'] = credential.organization;
  if (credential.project !== undefined) headers['OpenAI-Project'] = credential.project;
  const transcriptionModel =
    credential.transcriptionModel === null
      ? undefined
      : (credential.transcriptionModel ?? OPENAI_DEFAULT_TRANSCRIPTION_MODEL);
  return { url: url.toString(), headers, dialect, model, transcriptionModel };
}

export const openaiProvider: ProviderDefinition<OpenAICredential> = {
  slug: 'openai',
  displayName: 'OpenAI Realtime',
  credentialSchema: openaiCredentialSchema,
  secretFields: ['apiKey'],
  capabilities: {
    inputFormats: OPENAI_AUDIO_FORMATS,
    outputFormats: OPENAI_AUDIO_FORMATS,
    truncate: true,
    // interrupt_response/create_response can be switched off (providers.md §1.2): issue 14.
    serverInterruptions: true,
    tools: true,
    turn: OPENAI_TURN,
  },
  create: (credential, options, deps) =>
    new OpenAIRealtimeAgent('openai', openaiConnection(credential, options.model), options, deps),
};
