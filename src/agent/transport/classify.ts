import type { AgentErrorCode } from '../agent.js';

/** Whether a failed WebSocket handshake or a dropped session is worth retrying, and how to report it. */
export interface FailureClass {
  readonly retryable: boolean;
  readonly code: AgentErrorCode;
}

/**
 * The HTTP status of a refused WebSocket upgrade. 401/403 mean the credential is wrong and retrying only
 * burns rate limit; 408/429 and 5xx are transient (overload, deploys); any other 4xx is a request we will
 * keep getting wrong (bad model name, bad path).
 */
export function classifyHttpStatus(status: number): FailureClass {
  if (status === 401 || status === 403) return { retryable: false, code: 'AGENT_AUTH_FAILED' };
  if (status === 408 || status === 429 || status >= 500)
    return { retryable: true, code: 'AGENT_CONNECT_FAILED' };
  return { retryable: false, code: 'AGENT_CONNECT_FAILED' };
}

/**
 * A close the provider (or the network) did not ask us about. RFC 6455 §7.4.1: 1001 going away, 1006
 * abnormal closure (no close frame, e.g. a dropped TCP connection), 1011 server error, 1012 service
 * restart, 1013 try again later and 1014 bad gateway are transient. 1000 means the peer ended the session on
 * purpose; protocol, policy and size violations (1002, 1003, 1007, 1008, 1009, 1010) and application codes
 * 4000–4999 repeat on a new connection, so they are fatal unless a provider's classifyClose knows better.
 */
export function classifyCloseCode(code: number, _reason: string): { retryable: boolean } {
  switch (code) {
    case 1001:
    case 1005: // no status received: the peer vanished without saying why
    case 1006:
    case 1011:
    case 1012:
    case 1013:
    case 1014:
      return { retryable: true };
    default:
      return { retryable: false };
  }
}
