import { z } from 'zod';
import { AgentError } from '../../agent.js';
import type { AudioFormat } from '../../events.js';
import type { ProviderDefinition } from '../../provider.js';
import { GeminiAgent, type GeminiCredential } from './gemini-agent.js';
import { INPUT_RATE_HZ, OUTPUT_RATE_HZ } from './wire.js';

export { GeminiAgent, DEFAULT_GEMINI_URL, type GeminiCredential } from './gemini-agent.js';

export const geminiCredentialSchema = z.object({
  apiKey: z.string().min(1),
  /** Endpoint override: regional endpoints, proxies, local mocks. */
  url: z.url({ protocol: /^wss?$/ }).optional(),
  /** e.g. `gemini-live-2.5-flash-preview` or `models/…`. */
  model: z.string().min(1).optional(),
  /** Sliding-window compression so calls can outlast the 15 min audio-only limit [G6]. Default true. */
  contextWindowCompression: z.boolean().optional(),
});

// PCM16 16 kHz in, 24 kHz out; G.711 is not accepted, so the call layer transcodes [G6][X1].
const INPUT: AudioFormat = { encoding: 'pcm16', sampleRateHz: INPUT_RATE_HZ };
const OUTPUT: AudioFormat = { encoding: 'pcm16', sampleRateHz: OUTPUT_RATE_HZ };

export const geminiProvider: ProviderDefinition<GeminiCredential> = {
  slug: 'gemini',
  displayName: 'Google Gemini Live',
  credentialSchema: geminiCredentialSchema,
  secretFields: ['apiKey'],
  capabilities: {
    inputFormats: [INPUT],
    outputFormats: [OUTPUT],
    truncate: false,
    tools: true,
    // automaticActivityDetection [G1] (setup.ts): no semantic VAD, threshold becomes startOfSpeechSensitivity;
    // inputAudioTranscription takes languageCodes but no model; no noise reduction.
    turn: {
      vad: ['server_vad'],
      eagerness: false,
      threshold: true,
      silenceMs: { min: 0, max: 10_000 },
      prefixPaddingMs: true,
      noiseReduction: [],
      transcription: { on: true, off: true, language: true, model: false },
    },
  },
  create(credential, options, deps) {
    if (!sameFormat(options.inputFormat, INPUT) || !sameFormat(options.outputFormat, OUTPUT)) {
      throw new AgentError(
        'AGENT_FORMAT_UNSUPPORTED',
        'Gemini Live takes pcm16 at 16 kHz and gives pcm16 at 24 kHz',
      );
    }
    return new GeminiAgent(credential, options, deps);
  },
};

export function sameFormat(a: AudioFormat, b: AudioFormat): boolean {
  return a.encoding === b.encoding && a.sampleRateHz === b.sampleRateHz;
}
