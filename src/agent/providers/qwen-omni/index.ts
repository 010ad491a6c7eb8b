import { z } from 'zod';
import { AgentError } from '../../agent.js';
import type { AudioFormat } from '../../events.js';
import type { ProviderDefinition } from '../../provider.js';
import { QwenOmniAgent, type QwenCredential } from './qwen-agent.js';

export { QwenOmniAgent, DEFAULT_QWEN_URL, type QwenCredential } from './qwen-agent.js';

export const qwenCredentialSchema = z.object({
  apiKey: z.string().min(1),
  /** Endpoint override, e.g. `wss://dashscope-intl.aliyuncs.com/api-ws/v1/realtime` (Singapore) [Q1]. */
  url: z.url({ protocol: /^wss?$/ }).optional(),
  /** e.g. `qwen-omni-turbo-realtime`, `qwen3-omni-flash-realtime`. */
  model: z.string().min(1).optional(),
  workspace: z.string().min(1).optional(),
});

// PCM16 16 kHz in, 24 kHz out; 8 kHz is UNVERIFIED and G.711 never accepted, so the call layer resamples [Q1].
const INPUT: AudioFormat = { encoding: 'pcm16', sampleRateHz: 16000 };
const OUTPUT: AudioFormat = { encoding: 'pcm16', sampleRateHz: 24000 };

/** Registered as 'qwen-omni'; the registry adds the aliases 'aliyun_omni' and 'dashscope_omni'. */
export const qwenOmniProvider: ProviderDefinition<QwenCredential> = {
  slug: 'qwen-omni',
  displayName: 'Alibaba Qwen-Omni Realtime (DashScope)',
  credentialSchema: qwenCredentialSchema,
  secretFields: ['apiKey'],
  capabilities: {
    inputFormats: [INPUT],
    outputFormats: [OUTPUT],
    truncate: false,
    tools: true,
    // turn_detection [Q1][Q2]: semantic_vad on qwen3.5 models only [Q3], no eagerness documented; the SDK
    // range of silence_duration_ms is 200..6000 [Q2]. input_audio_transcription takes a model, no language;
    // no noise reduction.
    turn: {
      vad: ['server_vad', 'semantic_vad'],
      eagerness: false,
      threshold: true,
      silenceMs: { min: 200, max: 6000 },
      prefixPaddingMs: true,
      noiseReduction: [],
      transcription: { on: true, off: true, language: false, model: true },
    },
  },
  create(credential, options, deps) {
    const ok = (a: AudioFormat, b: AudioFormat): boolean =>
      a.encoding === b.encoding && a.sampleRateHz === b.sampleRateHz;
    if (!ok(options.inputFormat, INPUT) || !ok(options.outputFormat, OUTPUT)) {
      throw new AgentError(
        'AGENT_FORMAT_UNSUPPORTED',
        'Qwen-Omni takes pcm16 at 16 kHz and gives pcm16 at 24 kHz',
      );
    }
    return new QwenOmniAgent(credential, options, deps);
  },
};
