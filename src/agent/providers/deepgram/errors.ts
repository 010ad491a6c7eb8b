/**
 * Deepgram's `Error`, `Warning` and `InjectionRefused` messages as normalised agent errors [D3]: `Error` ends
 * the session ("the connection often closes shortly after"), the other two leave it usable. Pure.
 */
import type { AgentErrorEvent } from '../../events.js';
import type { DeepgramServerMessage } from './schemas.js';

/** Error codes after which a new session may succeed [D3]. */
const RETRYABLE_ERRORS = new Set(['INTERNAL_SERVER_ERROR', 'CLIENT_MESSAGE_TIMEOUT']);

export function fatalError(m: DeepgramServerMessage<'Error'>): AgentErrorEvent {
  const providerCode = m.code;
  return {
    code: 'AGENT_PROVIDER_ERROR',
    message: `Deepgram error: ${m.description ?? m.message ?? providerCode ?? 'unspecified'}`,
    fatal: true,
    retryable: providerCode !== undefined && RETRYABLE_ERRORS.has(providerCode),
    ...(providerCode !== undefined ? { providerCode } : {}),
  };
}

export function warning(m: DeepgramServerMessage<'Warning'>): AgentErrorEvent {
  return {
    code: 'AGENT_PROVIDER_ERROR',
    message: `Deepgram warning: ${m.description ?? m.code ?? 'unspecified'}`,
    fatal: false,
    retryable: false,
    ...(m.code !== undefined ? { providerCode: m.code } : {}),
  };
}

/** `default` behaviour refuses an injection while someone is mid-turn [D3]: trying later may work. */
export function injectionRefused(m: DeepgramServerMessage<'InjectionRefused'>): AgentErrorEvent {
  return {
    code: 'AGENT_PROVIDER_ERROR',
    message: `Deepgram refused an injected message: ${m.message ?? 'busy'}`,
    fatal: false,
    retryable: true,
    providerCode: 'INJECTION_REFUSED',
  };
}
