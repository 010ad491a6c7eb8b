/**
 * RFC 3262 on an incoming INVITE, at the message level: whether our provisionals must be reliable (the caller
 * put 100rel in Require, §4), and the response to a PRACK (§3, §5). The retransmission state machine is
 * reliable-provisional.ts.
 */
import type { DialogHost } from './dialog.js';
import type { SipRequest } from './message.js';
import { ReliableProvisionals, lists100rel, parseRAck } from './reliable-provisional.js';
import { parseCSeq } from './syntax.js';
import type { InviteServerTransaction } from './transaction.js';

/**
 * The reliable-provisional machine of an INVITE that requires 100rel, else undefined. §3 makes reliability
 * mandatory only when required; with `Supported: 100rel` alone our 1xx stay unreliable (no PRACK needed).
 */
export function reliableFor(
  invite: SipRequest,
  tx: InviteServerTransaction,
  host: DialogHost,
  onGiveUp: () => void,
): ReliableProvisionals | undefined {
  if (!lists100rel(invite.headers, 'Require')) return undefined;
  return new ReliableProvisionals({
    scheduler: host.scheduler,
    t1Ms: host.timers.t1Ms,
    inviteSeq: parseCSeq(invite.headers.get('CSeq') ?? '')?.seq ?? 0,
    send: (response) => tx.respond(response),
    onGiveUp,
  });
}

export interface PrackAnswer {
  readonly status: number;
  readonly options: { readonly reason?: string; readonly headers?: Readonly<Record<string, string>> };
  /** The SDP answer the PRACK carried, when our acknowledged provisional held the offer (§5). */
  readonly sdpAnswer?: string;
}

/**
 * §3: a PRACK whose RAck names an unacknowledged reliable provisional gets 200, anything else 481. §5 and
 * RFC 3264: a body answers the offer our provisional carried (delayed-offer INVITE). A new offer in a PRACK
 * is refused with 488 and changes nothing (the provisional stays unacknowledged, so a PRACK without the
 * offer can still follow); the call keeps a single offer/answer exchange.
 */
export function answerPrack(
  reliable: ReliableProvisionals | undefined,
  prack: SipRequest,
  weOffered: boolean,
): PrackAnswer {
  const rack = parseRAck(prack.headers.get('RAck'));
  if (rack === undefined)
    return { status: 400, options: { reason: 'Bad Request - Missing or malformed RAck' } };
  const hasBody = prack.body.length > 0;
  if (hasBody && !/^application\/sdp\b/i.test(prack.headers.get('Content-Type') ?? '')) {
    return { status: 415, options: { headers: { Accept: 'application/sdp' } } };
  }
  const provisional = reliable?.match(rack);
  if (reliable === undefined || provisional === undefined) {
    return { status: 481, options: { reason: 'Call/Transaction Does Not Exist - no such RSeq' } };
  }
  const provisionalOffered = weOffered && provisional.body.length > 0;
  if (hasBody && !provisionalOffered) {
    return {
      status: 488,
      options: { headers: { Warning: '399 switchboard "No offer accepted in PRACK"' } },
    };
  }
  reliable.acknowledge(rack);
  return {
    status: 200,
    options: {},
    ...(hasBody ? { sdpAnswer: prack.body.toString('utf8') } : {}),
  };
}
