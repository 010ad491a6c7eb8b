import { azureOpenaiProvider } from './providers/azure-openai/index.js';
import { echoProvider } from './providers/echo/index.js';
import { geminiProvider } from './providers/gemini/index.js';
import { openaiProvider } from './providers/openai/index.js';
import { qwenOmniProvider } from './providers/qwen-omni/index.js';
import { replayProvider } from './providers/replay/index.js';
import { ProviderRegistry } from './registry.js';

/** Every built-in provider, registered explicitly (STYLE.md §1: no import side effects). */
export function createDefaultRegistry(): ProviderRegistry {
  const registry = new ProviderRegistry();
  registry.register(openaiProvider);
  registry.register(azureOpenaiProvider);
  registry.register(geminiProvider);
  registry.register(qwenOmniProvider, 'aliyun_omni', 'dashscope_omni');
  registry.register(echoProvider);
  registry.register(replayProvider);
  return registry;
}
