/**
 * Requests a scan learns nothing from (issue 11). Scanners announce themselves in User-Agent (sipvicious sends
 * `friendly-scanner` by default); with `SIP_SILENT_DROP=unrouted` their requests, and INVITEs no dialplan
 * routes, get no answer at all, so a sweep cannot even tell that a SIP server listens. Without it they are
 * answered, but an INVITE never reaches a tenant's agent and gets the same answer as an unknown extension.
 */
import type { InboundGate, InboundRequestView } from '../sip/embedded/index.js';

/** User-Agent substrings of well-known SIP scanners and war-dialers (case-insensitive). */
const SCANNER_USER_AGENT =
  /friendly-scanner|sipvicious|sipcli|sip-scan|sundayddr|iwar|sivus|vaxsipuseragent|pplsip|smap\b/i;

export function isScanner(userAgent: string | undefined): boolean {
  return userAgent !== undefined && SCANNER_USER_AGENT.test(userAgent);
}

/** The called user the router sees: the To user, else the Request-URI user (as the call manager does). */
export function calledUserOf(request: Pick<InboundRequestView, 'toUser' | 'requestUser'>): string {
  return request.toUser !== '' ? request.toUser : request.requestUser;
}

/**
 * The `SIP_SILENT_DROP=unrouted` gate: drop every out-of-dialog request from a scanner and every initial
 * INVITE that no dialplan would accept (unknown number, or a source outside `allow_from`), before any
 * provisional response. In-dialog requests always pass (§12.2: they belong to calls we answered).
 */
export function silentDropGate(routes: (calledUser: string, sourceAddress: string) => boolean): InboundGate {
  return (request) => {
    if (request.inDialog) return true;
    if (isScanner(request.userAgent)) return false;
    if (request.method !== 'INVITE') return true;
    return routes(calledUserOf(request), request.sourceAddress);
  };
}
