import { z } from 'zod';
import type { AudioFormat } from '../../events.js';
import type { ProviderDefinition } from '../../provider.js';
import type { ProviderRegistry } from '../../registry.js';
import { EchoAgent } from './echo-agent.js';

export { EchoAgent, type EchoDeps, type EchoTuning } from './echo-agent.js';

/** No key: echo never leaves the process. `url` is accepted (every credential may carry one) and ignored. */
export const echoCredentialSchema = z.object({ url: z.string().optional() });
export type EchoCredential = z.infer<typeof echoCredentialSchema>;

const FORMATS: readonly AudioFormat[] = [
  { encoding: 'pcm16', sampleRateHz: 8000 },
  { encoding: 'pcm16', sampleRateHz: 16000 },
  { encoding: 'pcm16', sampleRateHz: 24000 },
];

export const echoProvider: ProviderDefinition<EchoCredential> = {
  slug: 'echo',
  displayName: 'Echo (local, plays the caller back)',
  credentialSchema: echoCredentialSchema,
  secretFields: [],
  // Output must equal input; the agent rejects a mismatched pair with AGENT_FORMAT_UNSUPPORTED.
  capabilities: {
    inputFormats: FORMATS,
    outputFormats: FORMATS,
    truncate: false,
    tools: true,
    // Its local energy VAD ends a turn after silence_ms (echo-agent.ts); it transcribes nothing.
    turn: {
      vad: ['server_vad'],
      eagerness: false,
      threshold: false,
      silenceMs: { min: 100, max: 10_000 },
      prefixPaddingMs: false,
      noiseReduction: [],
      transcription: { on: false, off: true, language: false, model: false },
    },
  },
  create: (_credential, options) => new EchoAgent(options),
};

export function registerEcho(registry: ProviderRegistry): void {
  registry.register(echoProvider);
}
