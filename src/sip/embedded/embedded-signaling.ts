/**
 * The embedded `Signaling` backend: a small RFC 3261 user agent (UAS + UAC) over our own transport,
 * transaction and dialog layers. Request dispatch follows §8.2 (UAS behaviour) and §12.2.2 (in-dialog).
 */
import type { Logger } from '../../observability/logger.js';
import type { DialOptions, Dialog, IncomingCall, Signaling, SipTransport } from '../signaling.js';
import { dialogKey, type DialogHost, type EmbeddedDialog } from './dialog.js';
import { ALLOW, SipEndpoint, type ServerTransaction } from './endpoint.js';
import { EmbeddedIncomingCall } from './incoming-call.js';
import type { SipRequest, SipResponse } from './message.js';
import { DEFAULT_TIMERS, InviteServerTransaction, realScheduler, type Scheduler } from './transaction.js';
import type { TcpLimits } from './conn-limits.js';
import type { InboundGate } from './inbound-gate.js';
import type { Flow } from './transport.js';
import { parseNameAddr } from './syntax.js';
import { refuseRequest } from '../request-policy.js';
import { DEFAULT_SESSION_TIMER, negotiateUas, type SessionTimerConfig } from './session-timer.js';
import { dialOut } from './uac.js';
import { OPTIONS_HEADERS, screenRequest } from './request-screen.js';
import type { SipResolver } from './resolver/sip-resolver.js';
import type { Registration, RegistrationBinding } from '../registration.js';
import { startRegistration } from './registrations.js';
import { TlsCredentials, type TlsSettings } from './tls-transport.js';

export interface EmbeddedSignalingOptions {
  readonly host: string;
  /** 0 = ephemeral; read back via `.port` after start(). */
  readonly port: number;
  readonly transports: readonly SipTransport[];
  /** Host written into Via, Contact and default From URIs. */
  readonly publicHost: string;
  readonly logger: Logger;
  readonly userAgent?: string;
  readonly timers?: { readonly t1Ms?: number; readonly t2Ms?: number; readonly t4Ms?: number };
  /** Injected clock for tests; real timers otherwise. */
  readonly scheduler?: Scheduler;
  /** An INVITE the app neither answers nor rejects gets 480 after this long (default 5 min). */
  readonly unansweredMs?: number;
  /** Cap on concurrent dialogs + unanswered calls; new INVITEs beyond it get 503. */
  readonly maxDialogs?: number;
  /** RFC 4028 session timers: our Min-SE (default 90 s) and the interval we ask for (default 1800 s). */
  readonly sessionTimers?: Partial<SessionTimerConfig>;
  /** Inbound TCP limits (conn-limits.ts); unset fields take the defaults. */
  readonly tcpLimits?: Partial<TcpLimits>;
  /** Drops requests silently before any transaction (inbound-gate.ts), e.g. `SIP_SILENT_DROP=unrouted`. */
  readonly inboundGate?: InboundGate;
  /** RFC 3263 resolution of outbound targets; without it a host name must be numeric or resolve by URI port. */
  readonly resolver?: SipResolver;
  /** A target that sends no response at all this long is skipped for the next resolved one (default 4 s). */
  readonly failoverMs?: number;
  /** SIP over TLS (tls-transport.ts); required when `transports` includes `tls`. */
  readonly tls?: TlsSettings;
}

export interface EmbeddedSignalingStats {
  readonly received: number;
  readonly parsed: number;
  readonly unparseableDropped: number;
  readonly badRequestsSent: number;
  readonly invalidDropped: number;
  readonly overloadRejected: number;
  readonly sent: number;
  readonly sendErrors: number;
  readonly tcpConnections: number;
  readonly tcpOverflowClosed: number;
  readonly tlsHandshakeFailed: number;
  readonly tlsHandshakeTimeoutClosed: number;
  readonly activeTransactions: number;
  readonly activeDialogs: number;
  readonly pendingCalls: number;
}

export class EmbeddedSignaling implements Signaling {
  readonly name = 'embedded' as const;
  private readonly endpoint: SipEndpoint;
  private readonly dialogs = new Map<string, EmbeddedDialog>();
  private readonly calls = new Map<InviteServerTransaction, EmbeddedIncomingCall>();
  private readonly dialogHost: DialogHost;
  private inviteHandler: ((call: IncomingCall) => void) | undefined;
  private running = false;
  /** Set while draining: out-of-dialog OPTIONS get 503 with this Retry-After. */
  private unavailableRetryAfterS: number | undefined;
  private readonly maxDialogs: number;
  private readonly closeWaitMs: number;

  constructor(private readonly options: EmbeddedSignalingOptions) {
    const timers = { ...DEFAULT_TIMERS, ...stripUndefined(options.timers ?? {}) };
    const scheduler = options.scheduler ?? realScheduler;
    this.maxDialogs = options.maxDialogs ?? 5000;
    this.closeWaitMs = Math.min(2000, 4 * timers.t1Ms);
    this.endpoint = new SipEndpoint({
      host: options.host,
      port: options.port,
      transports: options.transports,
      publicHost: options.publicHost,
      userAgent: options.userAgent ?? 'Switchboard',
      logger: options.logger,
      timers,
      scheduler,
      ...(options.tls === undefined ? {} : { tls: new TlsCredentials(options.tls, options.logger) }),
    });
    this.endpoint.setHandlers({
      onRequest: (req, tx, flow) => this.onRequest(req, tx, flow),
      onAck: (req) => this.onAck(req),
      onCancel: (tx) => this.calls.get(tx)?.onCancel(),
      onStray2xx: (res) => this.onStray2xx(res),
    });
    this.dialogHost = {
      endpoint: this.endpoint,
      scheduler,
      timers,
      sessionTimers: { ...DEFAULT_SESSION_TIMER, ...stripUndefined(options.sessionTimers ?? {}) },
      remove: (dialog) => {
        if (this.dialogs.get(dialog.key) === dialog) this.dialogs.delete(dialog.key);
      },
    };
    this.endpoint.transport.configure({
      ...(options.tcpLimits === undefined ? {} : { limits: options.tcpLimits }),
      ...(options.inboundGate === undefined ? {} : { gate: options.inboundGate }),
      // A connection carrying a dialog stays open however quiet the call is (in-dialog requests use it).
      dialogConnections: () => [...this.dialogs.values()].flatMap((d) => d.flow.connectionId ?? []),
    });
  }

  get port(): number {
    return this.endpoint.transport.port;
  }

  /** The TLS listening port (0 when TLS is off). */
  get tlsPort(): number {
    return this.endpoint.transport.tlsPort;
  }

  get connected(): boolean {
    return this.running;
  }

  get stats(): EmbeddedSignalingStats {
    const t = this.endpoint.transport.stats;
    const e = this.endpoint.stats;
    return {
      received: t.received,
      parsed: t.parsed,
      unparseableDropped: t.unparseable,
      badRequestsSent: e.badRequestsSent,
      invalidDropped: e.dropped,
      overloadRejected: e.overloadRejected,
      sent: t.sent,
      sendErrors: t.sendErrors,
      tcpConnections: t.tcpConnections,
      tcpOverflowClosed: t.tcpOverflowClosed,
      tlsHandshakeFailed: t.tlsHandshakeFailed,
      tlsHandshakeTimeoutClosed: t.tlsHandshakeTimeoutClosed,
      activeTransactions: this.endpoint.transactionCount,
      activeDialogs: this.dialogs.size,
      pendingCalls: this.calls.size,
    };
  }

  async start(): Promise<void> {
    await this.endpoint.start();
    this.running = true;
    this.options.logger.info(
      { port: this.port, tlsPort: this.tlsPort, transports: this.options.transports },
      'sip embedded signaling listening',
    );
  }

  /** Ends every dialog with BYE (waiting at most 4*T1, ≤ 2 s, for the answers), then closes the sockets. */
  async close(): Promise<void> {
    if (!this.running) return;
    for (const call of this.calls.values()) await call.reject(503);
    const byes = [...this.dialogs.values()].map(async (dialog) => {
      dialog.end('shutdown');
      await dialog.request('BYE');
    });
    await Promise.race([
      Promise.allSettled(byes),
      new Promise((resolve) => setTimeout(resolve, this.closeWaitMs).unref()),
    ]);
    this.running = false;
    await this.endpoint.close();
  }

  onInvite(handler: (call: IncomingCall) => void): void {
    this.inviteHandler = handler;
  }

  setUnavailable(retryAfterS: number | undefined): void {
    this.unavailableRetryAfterS = retryAfterS;
  }

  /** §11.2 out of a dialog: our capabilities, or 503 + Retry-After while draining. */
  private answerOptions(request: SipRequest, tx: ServerTransaction): void {
    const retryAfterS = this.unavailableRetryAfterS;
    if (retryAfterS === undefined) this.respond(request, tx, 200, OPTIONS_HEADERS);
    else this.respond(request, tx, 503, { 'Retry-After': String(retryAfterS) });
  }

  dial(uri: string, options: DialOptions): Promise<Dialog> {
    return dialOut(
      {
        dialogHost: this.dialogHost,
        register: (dialog) => this.dialogs.set(dialog.key, dialog),
        publicHost: this.options.publicHost,
        logger: this.options.logger,
        resolveTargets: (target) => this.resolveTargets(target),
        failoverMs: this.options.failoverMs ?? 4000,
      },
      uri,
      options,
    );
  }

  /**
   * RFC 3263 targets for an outbound request, in the order to try them. Without a resolver (unit tests of
   * the stack) only the URI's own host and port are used.
   */
  async resolveTargets(uri: string): Promise<Flow[]> {
    const resolver = this.options.resolver;
    if (resolver === undefined) {
      const flow = this.endpoint.targetFor(uri);
      return flow === undefined ? [] : [flow];
    }
    const targets = await resolver.resolve(uri, this.options.transports);
    // RFC 5922 §4: a TLS target is verified against the domain of the URI, not the SRV target's name.
    return targets.map((t) => ({
      transport: t.transport,
      address: t.address,
      port: t.port,
      ...(t.transport === 'tls' ? { serverName: t.domain } : {}),
    }));
  }

  register(binding: RegistrationBinding): Registration {
    return startRegistration(
      {
        endpoint: this.endpoint,
        scheduler: this.dialogHost.scheduler,
        publicHost: this.options.publicHost,
        logger: this.options.logger,
        resolveTargets: (uri) => this.resolveTargets(uri),
      },
      binding,
    );
  }

  private respond(
    request: SipRequest,
    tx: ServerTransaction,
    status: number,
    headers?: Record<string, string>,
    reason?: string,
  ): void {
    tx.respond(
      this.endpoint.createResponse(request, status, {
        ...(headers === undefined ? {} : { headers }),
        ...(reason === undefined ? {} : { reason }),
        ...(tx instanceof InviteServerTransaction ? { toTag: tx.localTag } : {}),
      }),
    );
  }

  private onRequest(request: SipRequest, tx: ServerTransaction, flow: Flow): void {
    const refused = screenRequest(request, flow.transport);
    if (refused !== undefined) {
      tx.respond(
        this.endpoint.createResponse(request, refused.status, {
          reason: refused.reason,
          ...(refused.headers === undefined ? {} : { headers: refused.headers }),
          ...(tx instanceof InviteServerTransaction ? { toTag: tx.localTag } : {}),
        }),
      );
      return;
    }
    const toTag = parseNameAddr(request.headers.get('To') ?? '')?.params.get('tag');
    const fromTag = parseNameAddr(request.headers.get('From') ?? '')?.params.get('tag') ?? '';
    const callId = request.headers.get('Call-ID') ?? '';
    if (toTag !== undefined) {
      // §12.2.2: in-dialog request; unknown dialog → 481.
      const dialog = this.dialogs.get(dialogKey(callId, toTag, fromTag));
      // RFC 3262: a PRACK lives in the early dialog of an INVITE we have not answered yet.
      const early = request.method === 'PRACK' ? this.earlyCall(callId, toTag, fromTag) : undefined;
      if (early !== undefined) early.onPrack(request, tx);
      else if (request.method === 'PRACK') this.respond(request, tx, 481);
      else if (dialog !== undefined) dialog.handleRequest(request, tx, flow);
      else if (request.method === 'OPTIONS') this.answerOptions(request, tx);
      else this.respond(request, tx, 481);
      return;
    }
    switch (request.method) {
      case 'INVITE':
        return this.onInitialInvite(request, tx as InviteServerTransaction, flow);
      case 'OPTIONS':
        return this.answerOptions(request, tx);
      case 'BYE':
      case 'INFO':
      case 'NOTIFY':
      case 'UPDATE':
      case 'PRACK':
        return this.respond(request, tx, 481);
      default:
        // §8.2.1: a method we do not serve (REGISTER, SUBSCRIBE, MESSAGE, REFER, …) → 405 with Allow.
        return this.respond(request, tx, 405, { Allow: ALLOW });
    }
  }

  private onInitialInvite(request: SipRequest, tx: InviteServerTransaction, flow: Flow): void {
    const reply = (status: number, reason?: string, headers?: Record<string, string>): void =>
      tx.respond(
        this.endpoint.createResponse(request, status, {
          toTag: tx.localTag,
          ...(reason === undefined ? {} : { reason }),
          ...(headers === undefined ? {} : { headers }),
        }),
      );
    // §8.2.2 / §8.2.3 checks (Require was checked in onRequest): Contact, then content.
    if (!request.headers.has('Contact')) return reply(400, 'Bad Request - Missing Contact');
    if (parseNameAddr(request.headers.get('Contact') ?? '') === undefined)
      return reply(400, 'Bad Request - Malformed Contact');
    const contentType = request.headers.get('Content-Type');
    if (request.body.length > 0 && (contentType === undefined || !/^application\/sdp\b/i.test(contentType))) {
      return reply(415, undefined, { Accept: 'application/sdp' });
    }
    // §8.2.3 / §21.4.7: our 200 carries SDP; an Accept that excludes it gets 406.
    const refused = refuseRequest('INVITE', request.uri, (name) =>
      name.toLowerCase() === 'accept' ? acceptList(request) : undefined,
    );
    if (refused !== undefined) return reply(refused.status, refused.reason, { ...refused.headers });
    // RFC 4028 §8.1: a Session-Expires below our Min-SE is refused with 422 naming it.
    const session = negotiateUas(request, this.dialogHost.sessionTimers);
    if (session.kind === 'too-small') {
      return reply(422, undefined, { 'Min-SE': String(session.minSeconds), Supported: 'timer' });
    }
    if (this.inviteHandler === undefined || !this.running) return reply(480);
    if (this.dialogs.size + this.calls.size >= this.maxDialogs)
      return reply(503, undefined, { 'Retry-After': '5' });
    const logger = this.options.logger.child({ callId: request.headers.get('Call-ID') ?? '' });
    const call = new EmbeddedIncomingCall(
      request,
      tx,
      flow,
      {
        dialogHost: this.dialogHost,
        register: (dialog) => this.dialogs.set(dialog.key, dialog),
        settled: (c) => this.calls.delete(c.tx),
        unansweredMs: this.options.unansweredMs ?? 300_000,
        session,
      },
      logger,
    );
    this.calls.set(tx, call);
    logger.info({ transport: flow.transport }, 'sip incoming call');
    try {
      this.inviteHandler(call);
    } catch (err) {
      logger.error({ err }, 'sip invite handler threw');
      void call.reject(500);
    }
  }

  private earlyCall(callId: string, toTag: string, fromTag: string): EmbeddedIncomingCall | undefined {
    for (const call of this.calls.values()) if (call.inEarlyDialog(callId, toTag, fromTag)) return call;
    return undefined;
  }

  private onAck(request: SipRequest): void {
    const toTag = parseNameAddr(request.headers.get('To') ?? '')?.params.get('tag');
    const fromTag = parseNameAddr(request.headers.get('From') ?? '')?.params.get('tag') ?? '';
    if (toTag === undefined) return;
    this.dialogs
      .get(dialogKey(request.headers.get('Call-ID') ?? '', toTag, fromTag))
      ?.modifier.handleAck(request);
  }

  private onStray2xx(response: SipResponse): void {
    const toTag = parseNameAddr(response.headers.get('To') ?? '')?.params.get('tag') ?? '';
    const fromTag = parseNameAddr(response.headers.get('From') ?? '')?.params.get('tag') ?? '';
    this.dialogs
      .get(dialogKey(response.headers.get('Call-ID') ?? '', fromTag, toTag))
      ?.on2xxRetransmit(response);
  }
}

/** Every Accept value as one list (the parser splits list headers into entries); undefined when absent. */
function acceptList(request: SipRequest): string | undefined {
  const values = request.headers.getAll('Accept');
  return values.length === 0 ? undefined : values.join(', ');
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
