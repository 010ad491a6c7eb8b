import { addressAllowed } from './cidr.js';
import type { AgentProfile } from './dialplan.js';
import type { LoadedDialplan } from './dialplan-store.js';
import { numberKey } from './number.js';

export type RouteResult =
  | { readonly ok: true; readonly tenant: string; readonly profile: AgentProfile; readonly file: string }
  | { readonly ok: false; readonly status: 403 | 404; readonly reason: string };

/**
 * Picks the tenant for a call from the called user part and the source address. An exact number wins over
 * a "*" wildcard; a number with and without a leading "+" is the same number. A matching dialplan whose
 * `allow_from` does not include the source answers 403; no match answers 404.
 */
export function route(
  dialplans: readonly LoadedDialplan[],
  call: { readonly calledUser: string; readonly sourceAddress: string },
): RouteResult {
  // The same normalisation as the store's conflict check, so no two files can match one called number.
  const key = numberKey(call.calledUser);
  const exact = dialplans.find((d) => d.numberKeys.has(key));
  const match = exact ?? dialplans.find((d) => d.wildcard);
  if (match === undefined) return { ok: false, status: 404, reason: 'Not Found' };
  if (match.allowFrom !== undefined && !addressAllowed(match.allowFrom, call.sourceAddress)) {
    return { ok: false, status: 403, reason: 'Forbidden' };
  }
  return { ok: true, tenant: match.dialplan.tenant, profile: match.dialplan.agent, file: match.file };
}

/**
 * A call for one of a tenant's registered contacts (issue 13): the PBX sent it to our Contact, so only that
 * tenant's dialplans are searched, with the registration's AOR user part as the called number.
 */
export function routeRegistered(
  dialplans: readonly LoadedDialplan[],
  contact: { readonly tenant: string; readonly calledUser: string },
  sourceAddress: string,
): RouteResult {
  const own = dialplans.filter((d) => d.dialplan.tenant === contact.tenant);
  return route(own, { calledUser: contact.calledUser, sourceAddress });
}
