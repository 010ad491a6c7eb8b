import { addressAllowed } from './cidr.js';
import type { AgentProfile } from './dialplan.js';
import type { LoadedDialplan } from './dialplan-store.js';

export type RouteResult =
  | { readonly ok: true; readonly tenant: string; readonly profile: AgentProfile; readonly file: string }
  | { readonly ok: false; readonly status: 403 | 404; readonly reason: string };

/** Strip visual separators so "+1 (555) 123-0000" style numbers still match. */
function normalise(user: string): string {
  return /^\+?[0-9 ().-]+$/.test(user) ? user.replace(/[ ().-]/g, '') : user;
}

/**
 * Picks the tenant for a call from the called user part and the source address. An exact number wins over
 * a "*" wildcard; a number with and without a leading "+" is the same number. A matching dialplan whose
 * `allow_from` does not include the source answers 403; no match answers 404.
 */
export function route(
  dialplans: readonly LoadedDialplan[],
  call: { readonly calledUser: string; readonly sourceAddress: string },
): RouteResult {
  const called = normalise(call.calledUser);
  const bare = called.replace(/^\+/, '');
  const exact = dialplans.find((d) =>
    d.dialplan.numbers.some((n) => n !== '*' && n.replace(/^\+/, '') === bare),
  );
  const match = exact ?? dialplans.find((d) => d.dialplan.numbers.includes('*'));
  if (match === undefined) return { ok: false, status: 404, reason: 'Not Found' };
  if (match.allowFrom !== undefined && !addressAllowed(match.allowFrom, call.sourceAddress)) {
    return { ok: false, status: 403, reason: 'Forbidden' };
  }
  return { ok: true, tenant: match.dialplan.tenant, profile: match.dialplan.agent, file: match.file };
}
