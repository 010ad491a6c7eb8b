/**
 * RFC 3262 UAC side of one outgoing INVITE: every reliable provisional (Require: 100rel + RSeq, §4) is
 * PRACKed once, in RSeq order per early dialog (To tag); a retransmission or an out-of-order response is
 * neither PRACKed nor processed (§4). The PRACK is a request of the early dialog (§12.1.2 route set from the
 * response's Record-Route, reversed; Request-URI its Contact) with the next CSeq and `RAck: rseq cseq INVITE`.
 */
import type { Logger } from '../../observability/logger.js';
import type { SipEndpoint } from './endpoint.js';
import { SipHeaders, type SipRequest, type SipResponse } from './message.js';
import { lists100rel, parseRSeq } from './reliable-provisional.js';
import { contactUri } from './dialog.js';
import { parseNameAddr } from './syntax.js';
import type { Flow } from './transport.js';

/** Per-trunk policy: offer 100rel (default), insist on it (Require), or leave it out entirely. */
export type PrackMode = 'required' | 'supported' | 'off';

/** The Supported/Require headers of our INVITE for a policy. */
export function inviteOptionHeaders(mode: PrackMode): { supported: string; require?: string } {
  if (mode === 'off') return { supported: 'timer' };
  return { supported: 'timer, 100rel', ...(mode === 'required' ? { require: '100rel' } : {}) };
}

/** What became of a provisional response. */
export type ProvisionalVerdict =
  /** Not reliable (no Require: 100rel / no RSeq): process as usual, no PRACK. */
  | 'unreliable'
  /** A new reliable provisional, in order: PRACKed; process it. */
  | 'pracked'
  /** A retransmission or out of order (§4): not PRACKed, not processed further. */
  | 'ignored';

export interface UacPrackDeps {
  readonly endpoint: SipEndpoint;
  /** The INVITE's current next hop (RFC 3263 failover may change it): PRACKs go the same way. */
  readonly target: () => Flow;
  readonly logger: Logger;
}

export class UacPrack {
  readonly #d: UacPrackDeps;
  /** Last in-order RSeq per early dialog (remote To tag). */
  readonly #lastRSeq = new Map<string, number>();
  #lastSeq = 0;
  /** PRACKs sent, for logs and tests. */
  sent = 0;

  constructor(deps: UacPrackDeps) {
    this.#d = deps;
  }

  /** The highest CSeq number a PRACK used (the dialog's local CSeq continues above it). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** A 101–199 to `invite` (whose CSeq number is `inviteSeq`). */
  onProvisional(invite: SipRequest, inviteSeq: number, response: SipResponse): ProvisionalVerdict {
    const rseq = parseRSeq(response.headers.get('RSeq'));
    if (!lists100rel(response.headers, 'Require') || rseq === undefined) return 'unreliable';
    const toValue = response.headers.get('To') ?? '';
    const tag = parseNameAddr(toValue)?.params.get('tag');
    // §4: a reliable provisional must create an early dialog; without a To tag there is nothing to PRACK in.
    if (tag === undefined || tag === '') return 'ignored';
    const last = this.#lastRSeq.get(tag);
    if (last !== undefined && rseq !== last + 1) return 'ignored';
    this.#lastRSeq.set(tag, rseq);
    this.#send(invite, inviteSeq, response, toValue, rseq);
    return 'pracked';
  }

  #send(invite: SipRequest, inviteSeq: number, response: SipResponse, to: string, rseq: number): void {
    const seq = Math.max(this.#lastSeq, inviteSeq) + 1;
    this.#lastSeq = seq;
    const headers = new SipHeaders();
    for (const route of [...response.headers.getAll('Record-Route')].reverse())
      headers.append('Route', route);
    headers.append('Max-Forwards', '70');
    headers.append('From', invite.headers.get('From') ?? '');
    headers.append('To', to);
    headers.append('Call-ID', invite.headers.get('Call-ID') ?? '');
    headers.append('CSeq', `${seq} PRACK`);
    headers.append('RAck', `${rseq} ${inviteSeq} INVITE`);
    const uri = contactUri(response.headers.get('Contact')) ?? invite.uri;
    const prack: SipRequest = {
      kind: 'request',
      method: 'PRACK',
      uri: uri.replace(/^<|>$/g, ''),
      headers,
      body: Buffer.alloc(0),
    };
    this.sent++;
    const log = this.#d.logger;
    this.#d.endpoint.sendRequest(prack, this.#d.target(), {
      onResponse: (res) => {
        if (res.status >= 300) log.info({ status: res.status, rseq }, 'sip PRACK refused');
      },
      onTimeout: () => log.info({ rseq }, 'sip PRACK timed out'),
    });
  }
}
