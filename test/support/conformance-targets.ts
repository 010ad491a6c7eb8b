/**
 * The provider conformance suite's table (test/agent/conformance/): every adapter that has a
 * protocol-faithful mock server, with the credential that mock accepts and what the protocol allows.
 *
 * To add a provider, append an entry here; the suite's files should not need to change. `echo` is not in the
 * table: it has no wire protocol and no mock (test/agent/providers/echo covers it).
 */
import type { AudioFormat } from '../../src/agent/events.js';
import type { ProviderDefinition } from '../../src/agent/provider.js';
import { azureOpenaiProvider } from '../../src/agent/providers/azure-openai/index.js';
import { deepgramProvider } from '../../src/agent/providers/deepgram/index.js';
import { geminiProvider } from '../../src/agent/providers/gemini/index.js';
import { openaiProvider } from '../../src/agent/providers/openai/index.js';
import { qwenOmniProvider } from '../../src/agent/providers/qwen-omni/index.js';
import { startDeepgramMock } from './deepgram-mock.js';
import { startGeminiMock } from './gemini-mock.js';
import type { MockProviderServer } from './mock-provider.js';
import { startOpenAIMock } from './openai-mock.js';
import { startQwenMock } from './qwen-mock.js';

export interface ConformanceTarget {
  readonly slug: string;
  /** Each target has its own credential type. */
  readonly definition: ProviderDefinition<any>;
  startMock(): Promise<MockProviderServer>;
  /** A valid credential pointing at the mock. */
  credential(mockUrl: string): Record<string, unknown>;
  /** A credential the mock rejects at connect time (bad key), or undefined to skip that case. */
  badCredential?(mockUrl: string): Record<string, unknown>;
  readonly inputFormat: AudioFormat;
  readonly outputFormat: AudioFormat;
  /** Client messages a local interrupt() mid-reply must produce, e.g. ['response.cancel', 'conversation.item.truncate']. */
  readonly interruptMessages: readonly string[];
  /** The session-setup message type, sent on connect and replayed on reconnect ('session.update', 'setup'). */
  readonly setupMessage: string;
  /** The provider takes G.711: a PCMU/PCMA call reaches it untouched (the call layer neither decodes nor resamples). */
  readonly g711Passthrough: boolean;
}

const PCMU: AudioFormat = { encoding: 'pcmu', sampleRateHz: 8000 };
const PCMA: AudioFormat = { encoding: 'pcma', sampleRateHz: 8000 };

export const conformanceTargets: readonly ConformanceTarget[] = [
  {
    slug: 'openai',
    definition: openaiProvider,
    startMock: () => startOpenAIMock(),
    credential: (url) => ({ apiKey: 'sk-test', url }),
    badCredential: (url) => ({ apiKey: 'sk-wrong', url }),
    inputFormat: PCMU,
    outputFormat: PCMU,
    interruptMessages: ['response.cancel', 'conversation.item.truncate'],
    setupMessage: 'session.update',
    g711Passthrough: true,
  },
  {
    slug: 'openai (pcm16 24 kHz)',
    definition: openaiProvider,
    startMock: () => startOpenAIMock(),
    credential: (url) => ({ apiKey: 'sk-test', url }),
    inputFormat: { encoding: 'pcm16', sampleRateHz: 24000 },
    outputFormat: { encoding: 'pcm16', sampleRateHz: 24000 },
    interruptMessages: ['response.cancel', 'conversation.item.truncate'],
    setupMessage: 'session.update',
    g711Passthrough: true,
  },
  {
    slug: 'azure-openai',
    definition: azureOpenaiProvider,
    startMock: () => startOpenAIMock({ mode: 'azure' }),
    credential: (url) => ({
      apiKey: 'az-test',
      endpoint: 'https://example.openai.azure.com',
      deployment: 'gpt-realtime',
      url,
    }),
    badCredential: (url) => ({
      apiKey: 'az-wrong',
      endpoint: 'https://example.openai.azure.com',
      deployment: 'gpt-realtime',
      url,
    }),
    inputFormat: PCMA,
    outputFormat: PCMA,
    interruptMessages: ['response.cancel', 'conversation.item.truncate'],
    setupMessage: 'session.update',
    g711Passthrough: true,
  },
  {
    slug: 'gemini',
    definition: geminiProvider,
    startMock: () => startGeminiMock(),
    credential: (url) => ({ apiKey: 'gemini-test', url }),
    badCredential: (url) => ({ apiKey: 'gemini-wrong', url }),
    inputFormat: { encoding: 'pcm16', sampleRateHz: 16000 },
    outputFormat: { encoding: 'pcm16', sampleRateHz: 24000 },
    // No truncate or cancel message exists: barge-in only flushes locally [providers.md §2.5].
    interruptMessages: [],
    setupMessage: 'setup',
    g711Passthrough: false,
  },
  {
    slug: 'qwen-omni',
    definition: qwenOmniProvider,
    startMock: () => startQwenMock(),
    credential: (url) => ({ apiKey: 'qwen-test', url }),
    badCredential: (url) => ({ apiKey: 'qwen-wrong', url }),
    inputFormat: { encoding: 'pcm16', sampleRateHz: 16000 },
    outputFormat: { encoding: 'pcm16', sampleRateHz: 24000 },
    // response.cancel only; conversation.item.truncate is not a DashScope client event [providers.md §3.4].
    interruptMessages: ['response.cancel'],
    setupMessage: 'session.update',
    g711Passthrough: false,
  },
  {
    slug: 'deepgram',
    definition: deepgramProvider,
    startMock: () => startDeepgramMock(),
    credential: (url) => ({ apiKey: 'dg-test', url }),
    badCredential: (url) => ({ apiKey: 'dg-wrong', url }),
    inputFormat: PCMU,
    outputFormat: PCMU,
    // No cancel or truncate message: UserStartedSpeaking and the server stops by itself [providers-2.md §7.5].
    interruptMessages: [],
    setupMessage: 'Settings',
    g711Passthrough: true,
  },
];
