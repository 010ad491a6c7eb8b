import type { Logger } from '../observability/logger.js';
import type { AgentHandover } from './agent-handover.js';
import { observeLegStats, type CallMetrics } from './call-metrics.js';
import type { MediaLegStats } from './media-leg.js';
import type { EndReason } from './session-types.js';
import type { ToolQueue } from './tool-queue.js';
import type { CallTurns } from './turns/call-turns.js';
import type { UplinkCleanup } from './uplink-cleanup.js';
import type { AmdCall } from './outbound/amd-call.js';

/** What an ended call reports: its reason, length and the counters of the parts it delegated to. */
export interface CallSummaryParts {
  readonly reason: EndReason;
  readonly durationMs: number;
  readonly bargeIns: number;
  /** The leg's counters, read before the leg was closed. */
  readonly rtp: MediaLegStats;
  readonly tools: ToolQueue;
  readonly uplink: UplinkCleanup | undefined;
  readonly turns: CallTurns;
  readonly handover: AgentHandover;
  readonly amd: AmdCall | undefined;
}

/** Counts the ended call in the metrics and logs its one 'call ended' summary line. */
export function reportCallEnded(log: Logger, metrics: CallMetrics, p: CallSummaryParts): void {
  metrics.callsEnded.inc({ reason: p.reason });
  observeLegStats(metrics, p.rtp);
  log.info(
    {
      reason: p.reason,
      durationMs: p.durationMs,
      bargeIns: p.bargeIns,
      tools: p.tools.summary(),
      rtp: p.rtp,
      ...p.uplink?.stats(),
      ...p.turns.summary(),
      ...p.handover.summary(),
      amd: p.amd?.summary(),
    },
    'call ended',
  );
}
