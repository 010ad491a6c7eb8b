/** Builds the Qwen-Omni `session.update` payload (docs/reference/providers.md §3.2) from AgentOptions. Pure. */
import type { AgentOptions, ToolSpec } from '../../agent.js';
import type { QwenSessionConfig } from './schemas.js';

export const DEFAULT_QWEN_MODEL = 'qwen-omni-turbo-realtime';
/** The input transcription model shown in the DashScope docs [Q1]. */
export const DEFAULT_TRANSCRIPTION_MODEL = 'gummy-realtime-v1';

export function buildSessionConfig(
  options: AgentOptions,
  instructions: string | undefined,
): QwenSessionConfig {
  const vad = options.vad;
  const session: QwenSessionConfig = {
    // ['audio'] alone is rejected; text must be present [Q1].
    modalities: ['text', 'audio'],
    // 2025 docs: input pcm16 (16 kHz), output pcm24 (24 kHz) [Q1]; see the UNVERIFIED note in providers.md.
    input_audio_format: 'pcm16',
    output_audio_format: 'pcm24',
    // turn.transcription (issue 14): off leaves it out; a model replaces the documented default [Q1].
    ...(vad?.transcription?.enabled === false
      ? {}
      : { input_audio_transcription: { model: vad?.transcription?.model ?? DEFAULT_TRANSCRIPTION_MODEL } }),
    turn_detection: {
      // semantic_vad only on qwen3.5 models [Q3]; server_vad elsewhere.
      type: vad?.type ?? 'server_vad',
      ...(vad?.threshold !== undefined ? { threshold: vad.threshold } : {}),
      ...(vad?.prefixPaddingMs !== undefined ? { prefix_padding_ms: Math.round(vad.prefixPaddingMs) } : {}),
      ...(vad?.silenceDurationMs !== undefined
        ? { silence_duration_ms: Math.min(6000, Math.max(200, Math.round(vad.silenceDurationMs))) }
        : {}),
      // barge_in.enabled false (issue 14): the server must not cancel its reply on caller speech [Q1].
      ...(options.interruptions === 'off' ? { interrupt_response: false } : {}),
    },
  };
  if (options.voice !== undefined) session.voice = options.voice;
  const withHistory = withConversation(instructions, options.history);
  if (withHistory !== undefined && withHistory !== '') session.instructions = withHistory;
  if (options.tools !== undefined && options.tools.length > 0) session.tools = options.tools.map(qwenTool);
  return session;
}

/** Nested Chat-Completions style, unlike OpenAI Realtime's flat tool objects [Q1]. */
export function qwenTool(tool: ToolSpec): NonNullable<QwenSessionConfig['tools']>[number] {
  return {
    type: 'function',
    function: { name: tool.name, description: tool.description, parameters: { ...tool.parameters } },
  };
}

/**
 * AgentOptions.history (issues 14/15) for Qwen-Omni: the documented client events have no message item (only
 * the UNVERIFIED function_call_output [Q2]), so the conversation so far goes into the instructions.
 */
export function withConversation(
  instructions: string | undefined,
  history: AgentOptions['history'],
): string | undefined {
  const lines = (history ?? [])
    .filter((t) => t.text.trim() !== '')
    .map((t) => `${t.role === 'user' ? 'Caller' : 'You'}: ${t.text}`);
  if (lines.length === 0) return instructions;
  const seed =
    'This call continues a conversation already in progress; do not greet the caller again.\n' +
    `Conversation so far:\n${lines.join('\n')}`;
  return instructions === undefined || instructions === '' ? seed : `${instructions}\n\n${seed}`;
}
