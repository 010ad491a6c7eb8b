import type { InterruptionMode } from '../../agent/agent.js';
import type { ProviderCapabilities } from '../../agent/provider.js';
import type { BargeInProfile } from '../../routing/dialplan.js';

/**
 * Who interrupts the agent on this call (issue 14): `off` when the profile disables barge-in; else the
 * profile's `mode`, or by default `server` where the provider can switch its own auto-interrupt off and
 * `provider` elsewhere. A profile asking for `server` on a provider that cannot do it gets `provider` (the
 * provider would cancel the reply by itself anyway; pausing first would change nothing the caller hears).
 */
export function resolveInterruptions(
  bargeIn: Pick<BargeInProfile, 'enabled' | 'mode'>,
  caps: Pick<ProviderCapabilities, 'serverInterruptions' | 'duplex'> | undefined,
): InterruptionMode {
  if (!bargeIn.enabled) return 'off';
  const canServer = caps?.serverInterruptions === true && caps.duplex !== true;
  if (!canServer) return 'provider';
  return bargeIn.mode ?? 'server';
}
