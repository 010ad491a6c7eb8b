/**
 * UAS side of an INVITE (§13.3): ring, reject, answer. Answering creates the dialog, sends the 2xx reliably
 * until the ACK (§13.3.1.4) and, for a delayed offer, takes the SDP answer from the ACK.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../../observability/logger.js';
import {
  SipError,
  type Dialog,
  type IncomingCall,
  type IncomingCallEvents,
  type NameAddr,
  type RejectOptions,
  type SourceAddress,
} from '../signaling.js';
import { EmbeddedDialog, contactUri, toNameAddr, type DialogHost } from './dialog.js';
import { ALLOW, randomToken, type ServerTransaction, type SipEndpoint } from './endpoint.js';
import type { SipRequest } from './message.js';
import type { InviteServerTransaction, TimerHandle } from './transaction.js';
import type { Flow } from './transport.js';
import { parseCSeq } from './syntax.js';
import type { UasNegotiation } from './session-timer.js';
import { answerPrack, reliableFor } from './uas-prack.js';
import type { ReliableProvisionals } from './reliable-provisional.js';

export interface IncomingCallHost {
  readonly dialogHost: DialogHost;
  readonly register: (dialog: EmbeddedDialog) => void;
  /** The call no longer needs CANCEL matching (final response sent or cancelled). */
  readonly settled: (call: EmbeddedIncomingCall) => void;
  readonly unansweredMs: number;
  /** RFC 4028 §9 outcome for this INVITE: headers for our 200 and the timer to arm once answered. */
  readonly session: UasNegotiation;
}

export class EmbeddedIncomingCall extends EventEmitter<IncomingCallEvents> implements IncomingCall {
  readonly callId: string;
  readonly requestUri: string;
  readonly from: NameAddr;
  readonly to: NameAddr;
  readonly source: SourceAddress;
  readonly sdpOffer: string | undefined;
  cancelled = false;
  private finalSent = false;
  private readonly localTag: string;
  private readonly endpoint: SipEndpoint;
  private readonly unansweredTimer: TimerHandle;
  /** RFC 3262: set when the caller requires 100rel; our 1xx then go out reliably. */
  private readonly reliable: ReliableProvisionals | undefined;
  /** The SDP answer a PRACK carried to our offer in a reliable provisional (delayed offer, RFC 3262 §5). */
  private prackAnswer: string | undefined;

  constructor(
    private readonly request: SipRequest,
    readonly tx: InviteServerTransaction,
    private readonly flow: Flow,
    private readonly host: IncomingCallHost,
    private readonly logger: Logger,
  ) {
    super();
    this.endpoint = host.dialogHost.endpoint;
    // The transaction's tag, so that the 200 to a CANCEL and every response to the INVITE agree (§9.2).
    this.localTag = tx.localTag === '' ? randomToken() : tx.localTag;
    this.callId = request.headers.get('Call-ID') ?? '';
    this.requestUri = request.uri;
    this.from = toNameAddr(request.headers.get('From') ?? '');
    this.to = toNameAddr(request.headers.get('To') ?? '');
    this.source = { address: flow.address, port: flow.port, transport: flow.transport };
    this.sdpOffer = request.body.length > 0 ? request.body.toString('utf8') : undefined;
    // An app that never answers must not pin the transaction forever: 480 after `unansweredMs`.
    this.unansweredTimer = host.dialogHost.scheduler.set(() => void this.reject(480), host.unansweredMs);
    // §3: no PRACK within 64*T1 — reject the INVITE with a 5xx (504 Server Time-out).
    this.reliable = reliableFor(request, tx, host.dialogHost, () => void this.reject(504));
  }

  /** Does an in-dialog request (PRACK) belong to this call's early dialog (our tag, the caller's tag)? */
  inEarlyDialog(callId: string, toTag: string, fromTag: string): boolean {
    return callId === this.callId && toTag === this.localTag && fromTag === (this.from.tag ?? '');
  }

  /** RFC 3262 §3: a PRACK for one of our reliable provisionals (200), or not (481). */
  onPrack(request: SipRequest, tx: ServerTransaction): void {
    const answer = answerPrack(this.reliable, request, this.sdpOffer === undefined);
    if (answer.sdpAnswer !== undefined) this.prackAnswer = answer.sdpAnswer;
    tx.respond(this.endpoint.createResponse(request, answer.status, answer.options));
  }

  private settle(): void {
    this.host.dialogHost.scheduler.clear(this.unansweredTimer);
    this.host.settled(this);
  }

  /** §12.1.1: a sips: Request-URI gets a sips: Contact. */
  private contact(): string {
    return this.endpoint.contact(this.flow.transport, undefined, /^sips:/i.test(this.requestUri));
  }

  header(name: string): string | undefined {
    return this.request.headers.get(name);
  }

  headerValues(name: string): readonly string[] {
    return this.request.headers.getAll(name);
  }

  ring(earlySdp?: string): Promise<void> {
    if (this.finalSent || this.cancelled) return Promise.resolve();
    const status = earlySdp === undefined ? 180 : 183;
    const response = this.endpoint.createResponse(this.request, status, {
      toTag: this.localTag,
      headers: { Contact: this.contact() },
      ...(earlySdp === undefined ? {} : { body: earlySdp }),
    });
    if (this.reliable !== undefined) this.reliable.send(response);
    else this.tx.respond(response);
    return Promise.resolve();
  }

  reject(status: number, options: RejectOptions = {}): Promise<void> {
    if (this.finalSent || this.cancelled) return Promise.resolve();
    this.finalSent = true;
    this.reliable?.close();
    const finalStatus = status >= 300 && status <= 699 ? status : 500;
    this.tx.respond(
      this.endpoint.createResponse(this.request, finalStatus, {
        toTag: this.localTag,
        ...(options.reason === undefined ? {} : { reason: options.reason }),
        ...(options.headers === undefined ? {} : { headers: options.headers }),
      }),
    );
    this.settle();
    this.logger.info({ status: finalStatus }, 'sip call rejected');
    return Promise.resolve();
  }

  async answer(localSdp: string): Promise<Dialog> {
    if (this.cancelled) throw new SipError(487, 'call was cancelled');
    if (this.finalSent) throw new SipError(500, 'call already has a final response');
    if (this.reliable?.pending === true) {
      // RFC 3262 §3: no 2xx before the PRACK of the provisional (we wait for every outstanding one).
      await this.reliable.whenAcknowledged();
      if (this.cancelled) throw new SipError(487, 'call was cancelled');
      if (this.finalSent) throw new SipError(500, 'call already has a final response');
    }
    this.finalSent = true;
    this.reliable?.close();
    this.settle();
    const headers = this.request.headers;
    const dialog = new EmbeddedDialog(
      {
        direction: 'inbound',
        callId: this.callId,
        localTag: this.localTag,
        remoteTag: this.from.tag ?? '',
        localHeader: headers.get('To') ?? '',
        remoteHeader: headers.get('From') ?? '',
        localSeq: Math.floor(Math.random() * 10_000) + 1,
        remoteSeq: parseCSeq(headers.get('CSeq') ?? '')?.seq,
        remoteTarget: contactUri(headers.get('Contact')) ?? this.from.uri,
        // §12.1.1: the UAS route set is the Record-Route list in order.
        routeSet: headers.getAll('Record-Route'),
        flow: this.flow,
        localSdp,
        remoteSdp: this.sdpOffer ?? '',
        logger: this.logger,
        remoteAllow: headers.getAll('Allow'),
      },
      this.host.dialogHost,
    );
    this.host.register(dialog);
    const session = this.host.session;
    const response = this.endpoint.createResponse(this.request, 200, {
      toTag: this.localTag,
      body: localSdp,
      headers: {
        Contact: this.contact(),
        Allow: ALLOW,
        Supported: 'timer, 100rel',
        ...(session.kind === 'run' ? session.headers : {}),
      },
    });
    // RFC 4028 §10: the interval runs from the 2xx.
    if (session.kind === 'run') dialog.sessionTimer.arm(session.seconds, session.refresher === 'uas');
    try {
      const ack = await dialog.modifier.sendReliable2xx(this.request, this.tx, response, this.flow);
      // Delayed offer (§13.2.1): our 200 carried the offer, the ACK carries the answer.
      if (this.sdpOffer === undefined) dialog.remoteSdp = this.prackAnswer ?? ack.body.toString('utf8');
      this.logger.info('sip call answered');
      return dialog;
    } catch (err) {
      if (err instanceof SipError && err.status === 408 && !dialog.ended) {
        // §13.3.1.4: no ACK within 64*T1 — the session is over; tear it down with BYE.
        dialog.end('ack-timeout');
        void dialog.request('BYE');
      }
      throw err;
    }
  }

  /** CANCEL matched our INVITE (the 200 for the CANCEL has been sent): §9.2 answer 487 and tell the app. */
  onCancel(): void {
    if (this.finalSent || this.cancelled) return;
    this.cancelled = true;
    this.reliable?.close();
    this.tx.respond(this.endpoint.createResponse(this.request, 487, { toTag: this.localTag }));
    this.settle();
    this.logger.info('sip call cancelled');
    this.emit('cancel');
  }
}
