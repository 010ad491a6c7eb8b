import { azureOpenaiProvider } from './providers/azure-openai/index.js';
import { deepgramProvider } from './providers/deepgram/index.js';
import { echoProvider } from './providers/echo/index.js';
import { geminiProvider } from './providers/gemini/index.js';
import { openaiProvider } from './providers/openai/index.js';
import { qwenOmniProvider } from './providers/qwen-omni/index.js';
import { replayProvider } from './providers/replay/index.js';
import { ProviderRegistry } from './registry.js';

export interface DefaultRegistryOptions {
  /**
   * Also register `replay` (answers from a recording on disk): only `switchboard replay` and servers started
   * with ENABLE_REPLAY_PROVIDER=true, never a production server by default (issue 11).
   */
  readonly replay?: boolean;
}

/** Every built-in provider, registered explicitly (STYLE.md §1: no import side effects). */
export function createDefaultRegistry(options: DefaultRegistryOptions = {}): ProviderRegistry {
  const registry = new ProviderRegistry();
  registry.register(openaiProvider);
  registry.register(azureOpenaiProvider);
  registry.register(geminiProvider);
  registry.register(qwenOmniProvider, 'aliyun_omni', 'dashscope_omni');
  registry.register(deepgramProvider);
  registry.register(echoProvider);
  if (options.replay === true) registry.register(replayProvider);
  return registry;
}
