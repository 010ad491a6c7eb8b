/**
 * The `deepgram` provider: Deepgram Voice Agent API v1 (docs/reference/providers-2.md §7). Profile `model` is
 * the think (LLM) model and `voice` the Aura TTS model; see settings.ts for the whole mapping.
 */
import { z } from 'zod';
import type { AudioFormat } from '../../events.js';
import type { ProviderDefinition } from '../../provider.js';
import { DeepgramAgent, type DeepgramCredential } from './deepgram-agent.js';

export { DeepgramAgent, DEFAULT_DEEPGRAM_URL, type DeepgramCredential } from './deepgram-agent.js';

export const deepgramCredentialSchema = z.object({
  apiKey: z.string().min(1),
  /** Endpoint override (EU/self-hosted, proxies, local mocks); default wss://agent.deepgram.com/v1/agent/converse. */
  url: z.url({ protocol: /^wss?$/ }).optional(),
  /** Think provider `type` (`open_ai`, `anthropic`, `google`, `groq`); default `open_ai` [D1]. */
  thinkProvider: z.enum(['open_ai', 'anthropic', 'google', 'groq']).optional(),
  /** Deepgram listen (STT) model; default `nova-3`. */
  listenModel: z.string().min(1).optional(),
  /** Listen language, e.g. `en`, `de`. */
  language: z.string().min(1).optional(),
});

/**
 * μ-law and A-law 8 kHz are native both ways (`container:"none"`) [D1], listed first so a G.711 call passes
 * its payloads straight through; linear16 at the usual rates for wideband calls.
 */
export const DEEPGRAM_AUDIO_FORMATS: readonly AudioFormat[] = [
  { encoding: 'pcmu', sampleRateHz: 8000 },
  { encoding: 'pcma', sampleRateHz: 8000 },
  { encoding: 'pcm16', sampleRateHz: 8000 },
  { encoding: 'pcm16', sampleRateHz: 16000 },
  { encoding: 'pcm16', sampleRateHz: 24000 },
];

export const deepgramProvider: ProviderDefinition<DeepgramCredential> = {
  slug: 'deepgram',
  displayName: 'Deepgram Voice Agent',
  credentialSchema: deepgramCredentialSchema,
  secretFields: ['apiKey'],
  capabilities: {
    inputFormats: DEEPGRAM_AUDIO_FORMATS,
    outputFormats: DEEPGRAM_AUDIO_FORMATS,
    // No truncate or cancel message: UserStartedSpeaking and the server stops by itself [D3].
    truncate: false,
    tools: true,
    // Listen (STT) takes a language and a model [D1]; no VAD knobs, and it cannot be off (settings.ts).
    turn: {
      vad: ['server_vad'],
      eagerness: false,
      threshold: false,
      prefixPaddingMs: false,
      noiseReduction: [],
      transcription: { on: true, off: false, language: true, model: true },
    },
  },
  create: (credential, options, deps) => new DeepgramAgent(credential, options, deps),
};
