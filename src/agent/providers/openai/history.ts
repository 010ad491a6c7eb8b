/**
 * AgentOptions.history on the OpenAI Realtime protocol (issues 14/15: rotation and failover): one
 * `conversation.item.create` message item per prior turn, sent right after the session.update and before
 * any audio or response, so the new session's conversation starts where the old one ended. The caller's
 * turns are `input_text`; the agent's turns are assistant text (`output_text` in GA, `text` in beta:
 * providers.md §1, "GA item content types are output_audio/output_text").
 */
import type { ConversationTurn } from '../../agent.js';
import type { Dialect } from './session-config.js';

export function historyItems(
  dialect: Dialect,
  history: readonly ConversationTurn[] | undefined,
): Record<string, unknown>[] {
  const assistantType = dialect === 'ga' ? 'output_text' : 'text';
  return (history ?? [])
    .filter((t) => t.text.trim() !== '')
    .map((t) => ({
      type: 'conversation.item.create',
      item: {
        type: 'message',
        role: t.role,
        content: [{ type: t.role === 'user' ? 'input_text' : assistantType, text: t.text }],
      },
    }));
}
