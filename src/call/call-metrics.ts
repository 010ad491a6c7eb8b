import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { MediaLegStats } from './media-leg.js';

/** The call layer's Prometheus metrics, registered once per registry. */
export interface CallMetrics {
  readonly activeCalls: Gauge;
  readonly callsEnded: Counter<'reason'>;
  readonly callsRejected: Counter<'status'>;
  readonly bargeIns: Counter;
  /** Server-owned interruptions (issue 14): candidates that paused the reply and were resumed. */
  readonly falseInterruptions: Counter;
  readonly toolCalls: Counter<'name'>;
  /** Answering-machine detection outcomes on outbound calls (issue 18). */
  readonly amdResults: Counter<'result'>;
  readonly rtpLost: Counter;
  readonly rtpLate: Counter;
  /** Caller end of speech (media time) → first agent frame on RTP (turn-latency.ts). */
  readonly turnLatency: Histogram;
  /** Switchboard's own share of it: `inbound` (arrival → provider), `outbound` (provider → RTP). */
  readonly turnShare: Histogram<'direction'>;
  /** Filler and hold clips played while a tool ran (issue 14). */
  readonly fillers: Counter<'kind'>;
  /** Notes sent to the agent about a silent caller. */
  readonly reprompts: Counter;
  readonly agentErrors: Counter<'code'>;
  /** Per-call RTCP quality at call end (RFC 3550 reports; see rtcp-session.ts and e-model.ts). */
  readonly callJitter: Histogram;
  readonly callLoss: Histogram;
  readonly callRtt: Histogram;
  readonly callMos: Histogram;
}

/** Counts one ended call's RTP figures, and observes its RTCP quality (none when RTCP was off). */
export function observeLegStats(metrics: CallMetrics, stats: MediaLegStats): void {
  metrics.rtpLost.inc(stats.lost);
  metrics.rtpLate.inc(stats.late);
  const rtcp = stats.rtcp;
  if (rtcp === undefined) return;
  metrics.callJitter.observe(rtcp.inbound.jitterMs / 1000);
  metrics.callLoss.observe(Math.max(rtcp.inbound.lossFraction, rtcp.remote?.fractionLost ?? 0));
  if (rtcp.rtt !== undefined) metrics.callRtt.observe(rtcp.rtt.avgMs / 1000);
  metrics.callMos.observe(rtcp.mos);
}

export function createCallMetrics(registry: Registry): CallMetrics {
  const registers = [registry];
  const get = <T>(name: string, make: () => T): T =>
    (registry.getSingleMetric(name) as T | undefined) ?? make();
  const histogram = (name: string, help: string, buckets: number[]): Histogram =>
    get(name, () => new Histogram({ name, help, buckets, registers }));
  return {
    activeCalls: get(
      'switchboard_active_calls',
      () => new Gauge({ name: 'switchboard_active_calls', help: 'Calls in progress', registers }),
    ),
    callsEnded: get(
      'switchboard_calls_total',
      () =>
        new Counter({
          name: 'switchboard_calls_total',
          help: 'Calls ended, by outcome',
          labelNames: ['reason'] as const,
          registers,
        }),
    ),
    callsRejected: get(
      'switchboard_calls_rejected_total',
      () =>
        new Counter({
          name: 'switchboard_calls_rejected_total',
          help: 'INVITEs rejected, by SIP status',
          labelNames: ['status'] as const,
          registers,
        }),
    ),
    bargeIns: get(
      'switchboard_barge_ins_total',
      () =>
        new Counter({
          name: 'switchboard_barge_ins_total',
          help: 'Barge-ins that interrupted agent audio',
          registers,
        }),
    ),
    falseInterruptions: get(
      'switchboard_false_interruptions_total',
      () =>
        new Counter({
          name: 'switchboard_false_interruptions_total',
          help: 'Caller sounds that paused agent audio without interrupting it (resumed where paused)',
          registers,
        }),
    ),
    toolCalls: get(
      'switchboard_tool_calls_total',
      () =>
        new Counter({
          name: 'switchboard_tool_calls_total',
          help: 'Tool calls by name',
          labelNames: ['name'] as const,
          registers,
        }),
    ),
    amdResults: get(
      'switchboard_amd_results_total',
      () =>
        new Counter({
          name: 'switchboard_amd_results_total',
          help: 'Answering-machine detection results on outbound calls',
          labelNames: ['result'] as const,
          registers,
        }),
    ),
    rtpLost: get(
      'switchboard_rtp_lost_total',
      () => new Counter({ name: 'switchboard_rtp_lost_total', help: 'Inbound RTP packets lost', registers }),
    ),
    rtpLate: get(
      'switchboard_rtp_late_total',
      () =>
        new Counter({
          name: 'switchboard_rtp_late_total',
          help: 'Inbound RTP packets too late to play',
          registers,
        }),
    ),
    turnLatency: histogram(
      'switchboard_turn_latency_seconds',
      'Caller end of speech (media time) to the first agent audio frame sent on RTP',
      [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5],
    ),
    turnShare: get(
      'switchboard_turn_latency_share_seconds',
      () =>
        new Histogram({
          name: 'switchboard_turn_latency_share_seconds',
          help: "Switchboard's own share of turn latency: inbound (caller frame arrived to pushed to the provider), outbound (provider audio to RTP)",
          labelNames: ['direction'] as const,
          buckets: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.1, 0.2, 0.5],
          registers,
        }),
    ),
    fillers: get(
      'switchboard_fillers_total',
      () =>
        new Counter({
          name: 'switchboard_fillers_total',
          help: 'Filler and hold clips played while a tool ran',
          labelNames: ['kind'] as const,
          registers,
        }),
    ),
    reprompts: get(
      'switchboard_reprompts_total',
      () =>
        new Counter({
          name: 'switchboard_reprompts_total',
          help: 'Silent-caller notes sent to the agent',
          registers,
        }),
    ),
    callJitter: histogram(
      'switchboard_call_jitter_seconds',
      'Interarrival jitter (RFC 3550 §A.8) of the caller stream at call end',
      [0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2],
    ),
    callLoss: histogram(
      'switchboard_call_loss_ratio',
      'Packet loss of a call at end, the worse of inbound and the peer-reported (RTCP) direction',
      [0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
    ),
    callRtt: histogram(
      'switchboard_call_rtt_seconds',
      'Mean RTCP round-trip time of a call (RFC 3550 §6.4.1 LSR/DLSR)',
      [0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 1],
    ),
    callMos: histogram(
      'switchboard_call_mos',
      'E-model (ITU-T G.107, simplified) MOS estimate of a call at end',
      [1, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4, 4.5],
    ),
    agentErrors: get(
      'switchboard_agent_errors_total',
      () =>
        new Counter({
          name: 'switchboard_agent_errors_total',
          help: 'Agent errors by code',
          labelNames: ['code'] as const,
          registers,
        }),
    ),
  };
}
