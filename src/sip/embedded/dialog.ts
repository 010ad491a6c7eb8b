/**
 * One RFC 3261 §12 dialog: identifiers, CSeq, route set, remote target, and the in-dialog methods (BYE, re-INVITE,
 * UPDATE, INFO, NOTIFY, OPTIONS, REFER). Requests are built per §12.2.1.1; incoming ones checked per §12.2.2.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../../observability/logger.js';
import {
  SipError,
  type Dialog,
  type DialogEndReason,
  type DialogEvents,
  type NameAddr,
  type ReferResult,
} from '../signaling.js';
import { ALLOW, newBranch, type ServerTransaction, type SipEndpoint } from './endpoint.js';
import { SipHeaders, bodyText, type SipRequest, type SipResponse } from './message.js';
import { type Scheduler, type TimerConfig, type TimerHandle } from './transaction.js';
import { isStream, type Flow } from './flow.js';
import { parseCSeq, parseNameAddr } from './syntax.js';
import { ModifyHandler } from './modify.js';
import type { SessionAnswer, SessionTimer, SessionTimerConfig } from './session-timer.js';
import { DialogSessionTimer } from './dialog-session-timer.js';

export interface DialogHost {
  readonly endpoint: SipEndpoint;
  readonly scheduler: Scheduler;
  readonly timers: TimerConfig;
  readonly sessionTimers: SessionTimerConfig;
  readonly remove: (dialog: EmbeddedDialog) => void;
}

export interface DialogInit {
  readonly direction: 'inbound' | 'outbound';
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  /** The From (outbound) or To (inbound) header value of the initial request, without our tag. */
  readonly localHeader: string;
  /** The peer's header value including its tag. */
  readonly remoteHeader: string;
  readonly localSeq: number;
  readonly remoteSeq: number | undefined;
  readonly remoteTarget: string;
  /** §12.1.1 / §12.1.2: Record-Route (reversed for the UAC), as `<uri>` values. */
  readonly routeSet: readonly string[];
  /** The flow the dialog was created on; TCP connections are reused for in-dialog requests. */
  readonly flow: Flow;
  readonly localSdp: string;
  readonly remoteSdp: string;
  readonly logger: Logger;
  /** The peer's Allow list (decides UPDATE vs re-INVITE for session refreshes). */
  readonly remoteAllow?: readonly string[];
}

/** Contract NameAddr from a header value (never throws; unparseable values give an empty NameAddr). */
export function toNameAddr(value: string): NameAddr {
  const parsed = parseNameAddr(value);
  if (parsed === undefined) return { uri: '', user: '', host: '' };
  const m = /^(?:sips?|tel):(?:([^@;?]*)@)?([^;?>:]*|\[[^\]]*\])/i.exec(parsed.uri);
  const userPart = m?.[1] ?? (parsed.uri.startsWith('tel:') ? (m?.[2] ?? '') : '');
  const user = userPart.split(':')[0] ?? '';
  const tag = parsed.params.get('tag');
  return {
    uri: parsed.uri,
    user,
    host: parsed.uri.startsWith('tel:') ? '' : (m?.[2] ?? ''),
    ...(parsed.displayName === undefined ? {} : { displayName: parsed.displayName }),
    ...(tag === undefined ? {} : { tag }),
  };
}

/** `<sip:…>` from a Contact header value. */
export function contactUri(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return parseNameAddr(value)?.uri;
}

export class EmbeddedDialog extends EventEmitter<DialogEvents> implements Dialog {
  readonly id: string;
  readonly callId: string;
  readonly direction: 'inbound' | 'outbound';
  readonly local: NameAddr;
  readonly remote: NameAddr;
  localSdp: string;
  remoteSdp: string;
  ended = false;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly logger: Logger;
  remoteTarget: string;
  routeSet: readonly string[];
  flow: Flow;
  private localSeq: number;
  private remoteSeq: number | undefined;
  private readonly localHeader: string;
  private readonly remoteHeader: string;
  /** Last ACK we sent for a 2xx, resent when the 2xx is retransmitted (§13.2.2.4). */
  private lastAck: { seq: number; request: SipRequest } | undefined;
  readonly modifier: ModifyHandler;
  /** RFC 4028; armed by the INVITE/UPDATE negotiations, stopped when the dialog ends. */
  readonly #session: DialogSessionTimer;

  constructor(
    init: DialogInit,
    private readonly host: DialogHost,
  ) {
    super();
    this.direction = init.direction;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localHeader = init.localHeader.replace(/;\s*tag=[^;]*/i, '');
    this.remoteHeader = init.remoteHeader;
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.flow = init.flow;
    this.localSdp = init.localSdp;
    this.remoteSdp = init.remoteSdp;
    this.logger = init.logger;
    this.local = { ...toNameAddr(this.localHeader), tag: init.localTag };
    this.remote = toNameAddr(init.remoteHeader);
    const fromTag = init.direction === 'inbound' ? init.remoteTag : init.localTag;
    this.id = `${init.callId};from-tag=${fromTag}`;
    this.modifier = new ModifyHandler(this, host);
    const remoteAllow = (init.remoteAllow ?? []).map((m) => m.trim().toUpperCase());
    this.#session = new DialogSessionTimer(this, host.scheduler, host.sessionTimers, remoteAllow);
  }

  /** RFC 4028's timer (dialog-session-timer.ts): armed by the INVITE/UPDATE negotiations. */
  get sessionTimer(): SessionTimer {
    return this.#session.timer;
  }

  /** RFC 4028 §9 applied to an in-dialog INVITE/UPDATE from the peer. */
  answerSessionRefresh(request: SipRequest): SessionAnswer {
    return this.#session.answer(request);
  }

  /** Map key: Call-ID + local tag + remote tag (§12: the dialog ID). */
  get key(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  get endpoint(): SipEndpoint {
    return this.host.endpoint;
  }

  /** Where in-dialog requests go: the live TCP/TLS connection, else the first route, else the remote target. */
  nextHop(): Flow | undefined {
    if (isStream(this.flow.transport) && this.endpoint.transport.isOpen(this.flow.connectionId))
      return this.flow;
    const first = this.routeSet[0];
    const hop = this.endpoint.targetFor(first ?? this.remoteTarget);
    if (hop !== undefined && isStream(this.flow.transport) && hop.transport !== this.flow.transport) {
      // A Contact without ;transport= on a TCP dialog still means TCP (the sip.js pitfall, sip.md §4); a TLS
      // dialog never falls back to a weaker transport (RFC 3261 §26.2.2). The dialog's TLS checks stay.
      return { ...hop, ...pick(this.flow), transport: this.flow.transport };
    }
    return hop;
  }

  /** The dialog was set up for a sips: URI: our Contact must be sips: too (§12.1.1, RFC 5630 §3.1.3). */
  get sips(): boolean {
    return /^<?sips:/i.test(this.remoteTarget);
  }

  /** §12.2.1.1 request construction. ACK reuses the INVITE's CSeq number. */
  createRequest(
    method: string,
    options: {
      readonly headers?: Readonly<Record<string, string>>;
      readonly body?: string;
      readonly contentType?: string;
      readonly seq?: number;
    } = {},
  ): SipRequest {
    const seq = options.seq ?? ++this.localSeq;
    const headers = new SipHeaders();
    for (const route of this.routeSet) headers.append('Route', route);
    headers.append('Max-Forwards', '70');
    headers.append('From', `${this.localHeader};tag=${this.localTag}`);
    headers.append('To', this.remoteHeader);
    headers.append('Call-ID', this.callId);
    headers.append('CSeq', `${seq} ${method}`);
    if (method === 'INVITE' || method === 'UPDATE' || method === 'REFER' || method === 'NOTIFY') {
      const transport = this.nextHop()?.transport ?? this.flow.transport;
      headers.append('Contact', this.endpoint.contact(transport, undefined, this.sips));
    }
    if (method === 'INVITE' || method === 'UPDATE') headers.append('Allow', ALLOW);
    for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
    const body = options.body === undefined ? Buffer.alloc(0) : Buffer.from(options.body, 'utf8');
    if (body.length > 0) headers.set('Content-Type', options.contentType ?? 'application/sdp');
    return { kind: 'request', method, uri: this.remoteTarget.replace(/^<|>$/g, ''), headers, body };
  }

  /** Send a non-INVITE request; resolves with the final response (a synthesized 408 on Timer F). */
  request(
    method: string,
    options: {
      readonly headers?: Readonly<Record<string, string>>;
      readonly body?: string;
      readonly contentType?: string;
    } = {},
  ): Promise<SipResponse> {
    const request = this.createRequest(method, options);
    const target = this.nextHop();
    if (target === undefined) return Promise.resolve(this.synthetic(request, 503, 'No Route To Peer'));
    return new Promise((resolve) => {
      this.endpoint.sendRequest(request, target, {
        onResponse: (res) => {
          if (res.status >= 200) resolve(res);
        },
        onTimeout: () => resolve(this.synthetic(request, 408, 'Request Timeout')),
      });
    });
  }

  private synthetic(request: SipRequest, status: number, reason: string): SipResponse {
    return this.endpoint.createResponse(request, status, { reason });
  }

  /** §13.2.2.4: ACK a 2xx in a new transaction-less request with a new branch; remembered for retransmits. */
  sendAck(seq: number, body?: string): void {
    const target = this.nextHop();
    const ack = this.createRequest('ACK', body === undefined ? { seq } : { seq, body });
    ack.headers.prepend('Via', this.endpoint.via(target?.transport ?? this.flow.transport, newBranch()));
    this.lastAck = { seq, request: ack };
    if (target !== undefined) this.endpoint.sendStateless(ack, target);
  }

  /** A retransmitted 2xx to one of our INVITEs: resend the same ACK. */
  on2xxRetransmit(response: SipResponse): void {
    const cseq = parseCSeq(response.headers.get('CSeq') ?? '');
    const target = this.nextHop();
    if (cseq !== undefined && this.lastAck?.seq === cseq.seq && target !== undefined) {
      this.endpoint.sendStateless(this.lastAck.request, target);
    }
  }

  /** §12.2.2: a request inside this dialog (already has its server transaction). */
  handleRequest(request: SipRequest, tx: ServerTransaction, flow: Flow): void {
    const cseq = parseCSeq(request.headers.get('CSeq') ?? '');
    const respond = (status: number, options: Parameters<SipEndpoint['createResponse']>[2] = {}): void =>
      tx.respond(this.endpoint.createResponse(request, status, options));
    if (cseq === undefined) return respond(400);
    // §12.2.2: a lower CSeq than the last one is out of order → 500.
    if (this.remoteSeq !== undefined && cseq.seq < this.remoteSeq) {
      return respond(500, { reason: 'Server Internal Error - CSeq out of order' });
    }
    this.remoteSeq = cseq.seq;
    switch (request.method) {
      case 'BYE':
        respond(200);
        this.end('remote-bye');
        return;
      case 'INVITE':
      case 'UPDATE':
        this.modifier.handleIncoming(request, tx, flow);
        return;
      case 'INFO':
        respond(200);
        this.emit('info', {
          contentType: request.headers.get('Content-Type') ?? '',
          body: bodyText(request),
        });
        return;
      case 'NOTIFY':
        respond(200);
        this.emit('notify', {
          event: request.headers.get('Event') ?? '',
          contentType: request.headers.get('Content-Type') ?? '',
          body: bodyText(request),
          subscriptionState: request.headers.get('Subscription-State') ?? '',
        });
        return;
      case 'OPTIONS':
        respond(200, { headers: { Allow: ALLOW, Accept: 'application/sdp' } });
        return;
      default:
        respond(405, { headers: { Allow: ALLOW } });
    }
  }

  /** End once: stop timers, leave the dialog table, emit 'ended'. */
  end(reason: DialogEndReason): void {
    if (this.ended) return;
    this.ended = true;
    this.sessionTimer.stop();
    this.modifier.dispose();
    this.host.remove(this);
    this.logger.info({ reason }, 'sip dialog ended');
    try {
      this.emit('ended', { reason });
    } catch (err) {
      // This may run from a timer: a throwing listener must not take the process down.
      this.logger.error({ err }, 'sip dialog ended listener threw');
    }
  }

  async hangup(headers?: Readonly<Record<string, string>>): Promise<void> {
    if (this.ended) return;
    // §15: the callee must not send BYE before the ACK for its 2xx arrived (or the 2xx timed out).
    await this.modifier.ackSettled();
    if (this.ended) return;
    this.end('local-bye');
    const res = await this.request('BYE', headers === undefined ? {} : { headers });
    if (res.status >= 300) this.logger.debug({ status: res.status }, 'sip BYE not accepted');
  }

  async sendInfo(contentType: string, body: string): Promise<number> {
    if (this.ended) throw new SipError(481, 'dialog has ended');
    return (await this.request('INFO', { contentType, body })).status;
  }

  modify(localSdp: string): Promise<string> {
    return this.modifier.sendReinvite(localSdp);
  }

  /** RFC 3515: REFER, then follow the implicit subscription's NOTIFY sipfrags until a final status. */
  refer(
    target: string,
    options: { readonly referredBy?: string; readonly timeoutMs?: number } = {},
  ): Promise<ReferResult> {
    if (this.ended) return Promise.reject(new SipError(481, 'dialog has ended'));
    return new Promise<ReferResult>((resolve) => {
      let last: ReferResult | undefined;
      const finish = (result: ReferResult): void => {
        this.off('notify', onNotify);
        this.off('ended', onEnded);
        this.host.scheduler.clear(timer);
        resolve(result);
      };
      const onNotify: (...args: DialogEvents['notify']) => void = (n) => {
        if (!/^refer\b/i.test(n.event.trim())) return;
        const m = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/m.exec(n.body);
        if (m !== null) last = { status: Number(m[1]), reason: (m[2] ?? '').trim() };
        if (last !== undefined && last.status >= 200) return finish(last);
        if (/^\s*terminated/i.test(n.subscriptionState))
          finish(last ?? { status: 500, reason: 'No final status' });
      };
      const onEnded = (): void => finish(last ?? { status: 487, reason: 'Dialog ended' });
      this.on('notify', onNotify);
      this.once('ended', onEnded);
      const timer: TimerHandle = this.host.scheduler.set(
        () => finish({ status: 408, reason: 'Refer Timeout' }),
        options.timeoutMs ?? 32_000,
      );
      const headers: Record<string, string> = { 'Refer-To': target.startsWith('<') ? target : `<${target}>` };
      if (options.referredBy !== undefined) headers['Referred-By'] = options.referredBy;
      void this.request('REFER', { headers }).then((res) => {
        if (res.status >= 300) finish({ status: res.status, reason: res.reason });
      });
    });
  }
}

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

/** The outbound TLS settings of a flow (SNI name, verification opt-out), to keep on a re-targeted hop. */
function pick(flow: Flow): Partial<Flow> {
  return {
    ...(flow.serverName === undefined ? {} : { serverName: flow.serverName }),
    ...(flow.tlsVerify === undefined ? {} : { tlsVerify: flow.tlsVerify }),
  };
}
