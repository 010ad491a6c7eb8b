/**
 * The INVITE-session half of a dialog: reliable 2xx until ACK (§13.3.1.4), incoming re-INVITE/UPDATE (§14.2,
 * RFC 3311) surfaced as ModifyRequest, and outgoing re-INVITE (§14.1) with glare handling (491).
 */
import type { Logger } from '../../observability/logger.js';
import { SipError, type DialogEndReason, type ModifyRequest, type RejectOptions } from '../signaling.js';
import type { ServerTransaction, SipEndpoint } from './endpoint.js';
import type { SipRequest, SipResponse } from './message.js';
import type { Scheduler, TimerConfig, TimerHandle } from './transaction.js';
import type { Flow } from './transport.js';
import { parseCSeq, parseNameAddr } from './syntax.js';
import type { SessionAnswer } from './session-timer.js';

/** What the handler needs from its dialog (structural, to keep dialog.ts → modify.ts one-way). */
export interface ModifyDialog {
  readonly endpoint: SipEndpoint;
  readonly logger: Logger;
  readonly ended: boolean;
  /** outbound: we sent the initial INVITE, so we own the Call-ID (§14.1 glare timer). */
  readonly direction: 'inbound' | 'outbound';
  localSdp: string;
  remoteSdp: string;
  remoteTarget: string;
  /** Set up for a sips: URI: our Contact is sips: too. */
  readonly sips: boolean;
  createRequest(
    method: string,
    options?: {
      readonly body?: string;
      readonly seq?: number;
      readonly headers?: Readonly<Record<string, string>>;
    },
  ): SipRequest;
  answerSessionRefresh(request: SipRequest): SessionAnswer;
  nextHop(): Flow | undefined;
  sendAck(seq: number, body?: string): void;
  end(reason: DialogEndReason): void;
  listenerCount(event: 'modify'): number;
  emit(event: 'modify', request: ModifyRequest): boolean;
  request(method: string): Promise<SipResponse>;
}

/** Re-INVITE attempts (the first and its glare retries) before a 491 reaches the caller. */
export const GLARE_ATTEMPTS = 3;

/**
 * §14.1: after a 491 the Call-ID owner waits a random 2.1–4 s, the other side 0–2 s (in 10 ms units), so
 * the two re-INVITEs do not cross again.
 */
export function glareRetryMs(callIdOwner: boolean, random: () => number = Math.random): number {
  const ms = callIdOwner ? 2100 + random() * 1900 : random() * 2000;
  return Math.round(ms / 10) * 10;
}

interface PendingAck {
  readonly seq: number;
  readonly resolve: (ack: SipRequest) => void;
  readonly reject: (err: SipError) => void;
  readonly timers: TimerHandle[];
}

export class ModifyHandler {
  private pendingAck: PendingAck | undefined;
  private outgoingInvite = false;
  private ackWaiters: Array<() => void> = [];

  constructor(
    private readonly dialog: ModifyDialog,
    private readonly host: { readonly scheduler: Scheduler; readonly timers: TimerConfig },
  ) {}

  /**
   * §13.3.1.4: pass the 2xx to the transaction, and retransmit it ourselves (T1 doubling to T2) until the ACK,
   * giving up after 64*T1. Only over UDP: on TCP sipp counts a resent 200 as unexpected (sip.md §6).
   */
  sendReliable2xx(
    request: SipRequest,
    tx: ServerTransaction,
    response: SipResponse,
    flow: Flow,
  ): Promise<SipRequest> {
    const seq = parseCSeq(request.headers.get('CSeq') ?? '')?.seq ?? 0;
    const { scheduler, timers } = this.host;
    this.cancelPendingAck();
    return new Promise<SipRequest>((resolve, reject) => {
      const pending: PendingAck = { seq, resolve, reject, timers: [] };
      this.pendingAck = pending;
      tx.respond(response);
      if (flow.transport === 'udp') {
        const retransmit = (intervalMs: number): void => {
          pending.timers.push(
            scheduler.set(() => {
              if (this.pendingAck !== pending) return;
              this.dialog.endpoint.sendResponse(request, response, flow);
              retransmit(Math.min(2 * intervalMs, timers.t2Ms));
            }, intervalMs),
          );
        };
        retransmit(timers.t1Ms);
      }
      pending.timers.push(
        scheduler.set(() => {
          if (this.pendingAck !== pending) return;
          this.cancelPendingAck();
          reject(new SipError(408, 'no ACK for 2xx'));
        }, 64 * timers.t1Ms),
      );
    });
  }

  /** Resolves once no 2xx of ours is waiting for its ACK (bounded by 64*T1). */
  ackSettled(): Promise<void> {
    if (this.pendingAck === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => this.ackWaiters.push(resolve));
  }

  /** An ACK for a 2xx of ours. Returns true when it matched the pending 2xx. */
  handleAck(ack: SipRequest): boolean {
    const pending = this.pendingAck;
    const seq = parseCSeq(ack.headers.get('CSeq') ?? '')?.seq;
    if (pending === undefined || seq !== pending.seq) return false;
    this.cancelPendingAck();
    pending.resolve(ack);
    return true;
  }

  private cancelPendingAck(): void {
    const pending = this.pendingAck;
    if (pending === undefined) return;
    for (const t of pending.timers) this.host.scheduler.clear(t);
    this.pendingAck = undefined;
    const waiters = this.ackWaiters;
    this.ackWaiters = [];
    for (const wake of waiters) wake();
  }

  /** §14.2 re-INVITE / RFC 3311 UPDATE from the peer. */
  handleIncoming(request: SipRequest, tx: ServerTransaction, flow: Flow): void {
    const endpoint = this.dialog.endpoint;
    const method = request.method === 'INVITE' ? 'INVITE' : 'UPDATE';
    const respond = (status: number, options: Parameters<SipEndpoint['createResponse']>[2] = {}): void =>
      tx.respond(endpoint.createResponse(request, status, options));
    // §14.2: a re-INVITE while one of ours (or an unacknowledged 2xx) is pending gets 491.
    if (method === 'INVITE' && (this.outgoingInvite || this.pendingAck !== undefined)) {
      return respond(491, { headers: { 'Retry-After': '1' } });
    }
    const body = request.body.length > 0 ? request.body.toString('utf8') : undefined;
    const contentType = request.headers.get('Content-Type');
    if (body !== undefined && contentType !== undefined && !/^application\/sdp\b/i.test(contentType)) {
      return respond(415, { headers: { Accept: 'application/sdp' } });
    }
    const contact = parseNameAddr(request.headers.get('Contact') ?? '')?.uri;
    // RFC 4028 §9: every re-INVITE/UPDATE is also a session refresh (or a 422 when it asks too little).
    const session = this.dialog.answerSessionRefresh(request);
    if (session.tooSmall !== undefined) {
      return respond(422, { headers: { 'Min-SE': String(session.tooSmall), Supported: 'timer' } });
    }
    if (method === 'UPDATE' && body === undefined) {
      // RFC 3311 §5.2 / RFC 4028 §7.4: an UPDATE without an offer only refreshes the session.
      if (contact !== undefined) this.dialog.remoteTarget = contact;
      respond(200, {
        headers: {
          ...session.headers,
          Contact: endpoint.contact(flow.transport, undefined, this.dialog.sips),
        },
      });
      session.commit();
      return;
    }
    let settled = false;
    const modify: ModifyRequest = {
      method,
      sdpOffer: body,
      accept: (localSdp: string) => {
        if (settled) return;
        settled = true;
        // §12.2.2: a target refresh request updates the remote target.
        if (contact !== undefined) this.dialog.remoteTarget = contact;
        const response = endpoint.createResponse(request, 200, {
          body: localSdp,
          headers: {
            ...session.headers,
            Contact: endpoint.contact(flow.transport, undefined, this.dialog.sips),
          },
        });
        this.dialog.localSdp = localSdp;
        if (body !== undefined) this.dialog.remoteSdp = body;
        session.commit();
        if (method === 'UPDATE') {
          tx.respond(response);
          return;
        }
        this.sendReliable2xx(request, tx, response, flow).then(
          (ack) => {
            // Offerless re-INVITE: our 200 carried the offer, the ACK carries the answer.
            if (body === undefined && ack.body.length > 0) this.dialog.remoteSdp = ack.body.toString('utf8');
          },
          (err: unknown) => this.dialog.logger.warn({ err }, 'sip re-INVITE 2xx never acknowledged'),
        );
      },
      reject: (status: number, options: RejectOptions = {}) => {
        if (settled) return;
        settled = true;
        respond(status < 300 ? 500 : status, {
          ...(options.reason === undefined ? {} : { reason: options.reason }),
          ...(options.headers === undefined ? {} : { headers: options.headers }),
        });
      },
    };
    if (this.dialog.listenerCount('modify') === 0) {
      // Nobody wants to negotiate: keep the current media by answering with our current SDP.
      modify.accept(this.dialog.localSdp);
      return;
    }
    this.dialog.emit('modify', modify);
  }

  /**
   * §14.1 re-INVITE with a new offer; resolves with the answer. Glare (a 491 from the peer, or our own INVITE
   * transaction still busy) is retried after the §14.1 random delay, at most GLARE_ATTEMPTS times in all.
   */
  async sendReinvite(localSdp: string, headers?: Readonly<Record<string, string>>): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      // §14.1: no new INVITE while our 2xx awaits its ACK; that wait is bounded by 64*T1, so just wait.
      await this.ackSettled();
      try {
        return await this.startReinvite(localSdp, headers);
      } catch (err) {
        if (
          !(err instanceof SipError) ||
          err.status !== 491 ||
          attempt >= GLARE_ATTEMPTS ||
          this.dialog.ended
        ) {
          throw err;
        }
        const waitMs = glareRetryMs(this.dialog.direction === 'outbound');
        this.dialog.logger.debug({ waitMs, attempt }, 'sip re-INVITE glare; retrying');
        await new Promise<void>((resolve) => this.host.scheduler.set(resolve, waitMs));
      }
    }
  }

  private startReinvite(localSdp: string, headers?: Readonly<Record<string, string>>): Promise<string> {
    const dialog = this.dialog;
    if (dialog.ended) return Promise.reject(new SipError(481, 'dialog has ended'));
    if (this.outgoingInvite || this.pendingAck !== undefined) {
      return Promise.reject(new SipError(491, 'another INVITE transaction is pending'));
    }
    const target = dialog.nextHop();
    if (target === undefined) return Promise.reject(new SipError(503, 'no route to peer'));
    const request = dialog.createRequest('INVITE', {
      body: localSdp,
      ...(headers === undefined ? {} : { headers }),
    });
    const seq = parseCSeq(request.headers.get('CSeq') ?? '')?.seq ?? 0;
    this.outgoingInvite = true;
    return new Promise<string>((resolve, reject) => {
      dialog.endpoint.sendRequest(request, target, {
        onResponse: (res) => {
          if (res.status < 200) return;
          if (!this.outgoingInvite) {
            dialog.sendAck(seq); // a 2xx retransmission inside Timer M
            return;
          }
          this.outgoingInvite = false;
          if (res.status >= 300) return reject(new SipError(res.status, `re-INVITE rejected: ${res.status}`));
          const contact = parseNameAddr(res.headers.get('Contact') ?? '')?.uri;
          if (contact !== undefined) dialog.remoteTarget = contact;
          dialog.sendAck(seq);
          const answer = res.body.toString('utf8');
          dialog.localSdp = localSdp;
          dialog.remoteSdp = answer;
          resolve(answer);
        },
        onTimeout: () => {
          this.outgoingInvite = false;
          reject(new SipError(408, 're-INVITE timed out'));
          // §14.1: a re-INVITE timeout ends the dialog with BYE.
          dialog.end('transport-error');
          void dialog.request('BYE');
        },
      });
    });
  }

  dispose(): void {
    const pending = this.pendingAck;
    this.cancelPendingAck();
    pending?.reject(new SipError(481, 'dialog ended before ACK'));
  }
}
