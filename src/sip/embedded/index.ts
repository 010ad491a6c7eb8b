/**
 * Embedded SIP backend: our own RFC 3261 UA over UDP + TCP.
 *
 * Layers, bottom up: `parser`/`serializer`/`syntax` (§7, §19, §20, §25) → `framing` + `transport` (§18, RFC 3581)
 * → `transaction` (§17, RFC 6026) → `endpoint` (matching, message builders, validation) → `dialog` + `modify`
 * (§12–§15) → `incoming-call` (UAS) and `uac` (dial) → `embedded-signaling` (the `Signaling` implementation).
 */
export {
  EmbeddedSignaling,
  type EmbeddedSignalingOptions,
  type EmbeddedSignalingStats,
} from './embedded-signaling.js';
export { realScheduler, DEFAULT_TIMERS, type Scheduler, type TimerConfig } from './transaction.js';
export { DEFAULT_TCP_LIMITS, type TcpLimits } from './conn-limits.js';
export type { InboundGate, InboundRequestView } from './inbound-gate.js';
