/**
 * The last resort of a call whose agent is gone and no failover target answers (DESIGN.md §4, issue 11):
 * the profile's fallback prompt (else the server's default one), then the profile's transfer target if it
 * has one, else hang up with 'agent-failed'. Never silence.
 */
import type { Logger } from '../observability/logger.js';
import type { CallSessionDeps, EndReason } from './session-types.js';
import type { TransferOutcome, TransferTarget } from './tools/dispatcher.js';

export async function runFallback(
  d: Pick<CallSessionDeps, 'profile' | 'playPrompt' | 'defaultFallbackPrompt'>,
  h: {
    readonly timeline: (kind: string, data: Record<string, unknown>) => void;
    readonly transfer: (target: TransferTarget) => Promise<TransferOutcome>;
    readonly end: (reason: EndReason) => Promise<void>;
  },
  log: Logger,
): Promise<void> {
  const fb = d.profile.fallback;
  const prompt = fb?.audio ?? d.defaultFallbackPrompt;
  h.timeline('agent.fallback', { prompt: prompt !== undefined });
  if (prompt !== undefined && d.playPrompt !== undefined) {
    try {
      await d.playPrompt(prompt);
    } catch (err) {
      log.warn({ err }, 'fallback prompt failed');
    }
  }
  const target = fb?.transfer_to;
  const transfer = d.profile.tools.transfer_call;
  const uri = target === undefined ? undefined : transfer?.targets[target];
  if (target !== undefined && uri !== undefined) {
    const outcome = await h.transfer({ name: target, uri, method: transfer?.method ?? 'refer' });
    if (outcome.callLeft) return;
  }
  await h.end('agent-failed');
}
