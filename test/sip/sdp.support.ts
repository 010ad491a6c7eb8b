/** Shared pieces of the SDP unit tests (sdp.test.ts, sdp.g722.test.ts). */
import type { NegotiationResult, SdpAnswer } from '../../src/sip/sdp.js';

/** SDP lines joined with CRLF, the way peers send them. */
export const crlf = (lines: string[]): string => lines.join('\r\n') + '\r\n';

/** Our side of the negotiation in these tests. */
export const local = { address: '203.0.113.10', port: 40000, sessionId: 1234, sessionVersion: 1 };

/** The answer of a negotiation that must succeed. */
export function ok(result: NegotiationResult): SdpAnswer {
  if (!result.ok) throw new Error(`expected ok, got ${result.status} ${result.detail}`);
  return result;
}
