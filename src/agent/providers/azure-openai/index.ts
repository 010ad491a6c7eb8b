/**
 * The `azure-openai` provider: the OpenAI Realtime protocol on an Azure OpenAI resource
 * (docs/reference/providers.md §1.9). Same events and audio formats as OpenAI [S10]; differences are the
 * URL, the `api-key` header, and that a transcription model must name a deployment.
 *
 * - GA (default): `wss://<resource>.openai.azure.com/openai/v1/realtime?model=<deployment>`, no api-version.
 * - Preview, when `apiVersion` is given: `wss://<resource>.openai.azure.com/openai/realtime?api-version=…
 *   &deployment=<deployment>`, which speaks the beta protocol (deprecated from 2026-04-30 [S10]).
 */
import { z } from 'zod';
import type { ProviderDefinition } from '../../provider.js';
import { OpenAIRealtimeAgent, type OpenAIConnection } from '../openai/realtime-agent.js';
import { OPENAI_AUDIO_FORMATS, OPENAI_TURN } from '../openai/session-config.js';

export const azureOpenaiCredentialSchema = z.object({
  apiKey: z.string().min(1),
  /** The resource endpoint, e.g. `https://my-resource.openai.azure.com` (only its host is used). */
  endpoint: z.url({ protocol: /^(https?|wss?)$/ }),
  deployment: z.string().min(1),
  /** Selects the preview (beta-protocol) endpoint, e.g. `2025-04-01-preview`. */
  apiVersion: z.string().min(1).optional(),
  /** Full endpoint override (proxies, local mocks); the query parameters are still appended. */
  url: z.url({ protocol: /^wss?$/ }).optional(),
  /** Deployment of a transcription model, for 'user.transcript' (Azure wants a deployment name [S10]). */
  transcriptionDeployment: z.string().min(1).optional(),
});
export type AzureOpenAICredential = z.infer<typeof azureOpenaiCredentialSchema>;

export function azureOpenaiConnection(credential: AzureOpenAICredential): OpenAIConnection {
  const preview = credential.apiVersion !== undefined;
  const host = new URL(credential.endpoint).host;
  const url = new URL(
    credential.url ?? `wss://${host}${preview ? '/openai/realtime' : '/openai/v1/realtime'}`,
  );
  if (preview) {
    if (!url.searchParams.has('api-version'))
      url.searchParams.set('api-version', credential.apiVersion ?? '');
    if (!url.searchParams.has('deployment')) url.searchParams.set('deployment', credential.deployment);
  } else if (!url.searchParams.has('model')) {
    url.searchParams.set('model', credential.deployment);
  }
  return {
    url: url.toString(),
    headers: preview
      ? { 'api-key': credential.apiKey, 'OpenAI-Beta': 'realtime=v1' }
      : { 'api-key': credential.apiKey },
    dialect: preview ? 'beta' : 'ga',
    model: credential.deployment,
    transcriptionModel: credential.transcriptionDeployment,
  };
}

export const azureOpenaiProvider: ProviderDefinition<AzureOpenAICredential> = {
  slug: 'azure-openai',
  displayName: 'Azure OpenAI Realtime',
  credentialSchema: azureOpenaiCredentialSchema,
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
    new OpenAIRealtimeAgent('azure-openai', azureOpenaiConnection(credential), options, deps),
};
