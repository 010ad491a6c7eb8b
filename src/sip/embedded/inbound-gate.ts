/**
 * A hook in front of the transaction layer: a request it drops gets no answer at all, not even the 100 Trying
 * an INVITE server transaction sends at once (§17.2.1), so a scanner learns nothing (issue 11,
 * `SIP_SILENT_DROP`). The hook sees a small read-only view, never the parsed message, so policy code outside
 * `sip/embedded/` does not depend on the stack's internals.
 */
import type { SipRequest } from './message.js';
import { parseNameAddr, parseUri } from './syntax.js';

export interface InboundRequestView {
  readonly method: string;
  /** User part of the Request-URI ('' when absent). */
  readonly requestUser: string;
  /** User part of the To URI ('' when absent). */
  readonly toUser: string;
  readonly userAgent: string | undefined;
  /** §12.2: a To tag means the request belongs to a dialog (never dropped by a sane policy). */
  readonly inDialog: boolean;
  readonly sourceAddress: string;
}

/** true: handle the request; false: drop it silently. */
export type InboundGate = (request: InboundRequestView) => boolean;

export function inboundView(request: SipRequest, sourceAddress: string): InboundRequestView {
  const to = parseNameAddr(request.headers.get('To') ?? '');
  return {
    method: request.method,
    requestUser: parseUri(request.uri)?.user ?? '',
    toUser: to === undefined ? '' : (parseUri(to.uri)?.user ?? ''),
    userAgent: request.headers.get('User-Agent'),
    inDialog: to?.params.has('tag') === true,
    sourceAddress,
  };
}
