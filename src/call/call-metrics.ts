import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The call layer's Prometheus metrics, registered once per registry. */
export interface CallMetrics {
  readonly activeCalls: Gauge;
  readonly callsEnded: Counter<'reason'>;
  readonly callsRejected: Counter<'status'>;
  readonly bargeIns: Counter;
  readonly toolCalls: Counter<'name'>;
  readonly rtpLost: Counter;
  readonly rtpLate: Counter;
  readonly responseLatency: Histogram;
  readonly agentErrors: Counter<'code'>;
}

export function createCallMetrics(registry: Registry): CallMetrics {
  const registers = [registry];
  const get = <T>(name: string, make: () => T): T =>
    (registry.getSingleMetric(name) as T | undefined) ?? make();
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
    responseLatency: get(
      'switchboard_response_latency_seconds',
      () =>
        new Histogram({
          name: 'switchboard_response_latency_seconds',
          help: 'Time from the end of caller speech to the first agent audio',
          buckets: [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5],
          registers,
        }),
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
