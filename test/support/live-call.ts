import type { LiveCall } from '../../src/call/call-ports.js';
import type { TestServer } from './server.js';

/**
 * The server's live call matching `match`, once it is established (polled every 25 ms, bounded by
 * `timeoutMs`); throws when it never appears. Its `media.localPort` is where a test's own RTP peer sends.
 */
export async function waitForLiveCall(
  srv: TestServer,
  match: (call: LiveCall) => boolean,
  timeoutMs = 5000,
): Promise<LiveCall> {
  for (let i = 0; i < Math.ceil(timeoutMs / 25); i++) {
    const call = srv.server.calls.liveCalls().find(match);
    if (call !== undefined) return call;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the call was never established');
}
