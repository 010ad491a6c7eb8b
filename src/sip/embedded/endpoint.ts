/**
 * The transaction user's view of the stack: transport + transaction matching (§17.1.3, §17.2.3) + message
 * builders (§8.1.1, §8.2.6). Dialogs and calls live above this in `ua.ts`; this file knows nothing of SDP.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../observability/logger.js';
import type { SipTransport } from '../signaling.js';
import { SipHeaders, reasonPhrase, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import {
  InviteClientTransaction,
  InviteServerTransaction,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
  clientKey,
  serverKey,
  topBranch,
  type Scheduler,
  type TimerConfig,
} from './transaction.js';
import { TransportLayer, responseTarget, type Flow } from './transport.js';
import { defaultPort, isStream } from './flow.js';
import type { TlsCredentials } from './tls-transport.js';
import { MAGIC_COOKIE, parseCSeq, parseUri, socketHost, uriHost } from './syntax.js';
import { VERSION_ERROR } from './parser.js';
import { validateRequest } from './validate.js';

export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, NOTIFY, PRACK';

export interface EndpointStats {
  badRequestsSent: number;
  dropped: number;
  serverTransactions: number;
  clientTransactions: number;
  overloadRejected: number;
}

export interface EndpointHandlers {
  /** A new request (not a retransmission, not an ACK, not a CANCEL) with its server transaction. */
  readonly onRequest: (request: SipRequest, tx: ServerTransaction, flow: Flow) => void;
  /** An ACK no INVITE server transaction absorbed: the ACK for a 2xx (§13.3.1.4). */
  readonly onAck: (request: SipRequest, flow: Flow) => void;
  /** CANCEL matched a pending INVITE transaction; the 200 for the CANCEL is already sent. */
  readonly onCancel: (invite: InviteServerTransaction) => void;
  /** A 2xx to INVITE with no client transaction left: a retransmission the dialog must ACK again. */
  readonly onStray2xx: (response: SipResponse) => void;
}

export interface EndpointOptions {
  readonly host: string;
  readonly port: number;
  readonly transports: readonly SipTransport[];
  readonly publicHost: string;
  readonly userAgent: string;
  readonly logger: Logger;
  readonly timers: TimerConfig;
  readonly scheduler: Scheduler;
  readonly maxTransactions?: number;
  /** Certificates for the TLS transport (required when `transports` includes `tls`). */
  readonly tls?: TlsCredentials;
}

export interface RequestCallbacks {
  readonly onResponse: (response: SipResponse) => void;
  readonly onTimeout: () => void;
}

export function randomToken(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}

export function newBranch(): string {
  return `${MAGIC_COOKIE}${randomToken(10)}`;
}

export class SipEndpoint {
  readonly transport: TransportLayer;
  readonly stats: EndpointStats = {
    badRequestsSent: 0,
    dropped: 0,
    serverTransactions: 0,
    clientTransactions: 0,
    overloadRejected: 0,
  };
  private readonly serverTxs = new Map<string, ServerTransaction>();
  private readonly clientTxs = new Map<string, ClientTransaction>();
  private handlers: EndpointHandlers | undefined;
  private readonly maxTransactions: number;

  constructor(readonly options: EndpointOptions) {
    this.maxTransactions = options.maxTransactions ?? 20_000;
    this.transport = new TransportLayer({
      host: options.host,
      port: options.port,
      transports: options.transports,
      logger: options.logger,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      onMessage: (message, flow) => this.onMessage(message, flow),
      onUnparseable: (error, message, flow) => this.onUnparseable(error, message, flow),
    });
  }

  setHandlers(handlers: EndpointHandlers): void {
    this.handlers = handlers;
  }

  get logger(): Logger {
    return this.options.logger;
  }

  get transactionCount(): number {
    return this.serverTxs.size + this.clientTxs.size;
  }

  /**
   * Our Contact URI for a transport (§8.1.1.8). `sips`: the request was for a sips: URI, so the Contact must be
   * one too (§8.1.1.8, §12.1.1), without `;transport=tls` (RFC 5630 §3.2 deprecates it).
   */
  contact(transport: SipTransport, user = 'switchboard', sips = false): string {
    const hostPort = `${uriHost(this.options.publicHost)}:${this.transport.portFor(transport)}`;
    if (sips && transport === 'tls') return `<sips:${user}@${hostPort}>`;
    return `<sip:${user}@${hostPort};transport=${transport}>`;
  }

  /** The default transport for new outbound requests. */
  defaultTransport(): SipTransport {
    return this.options.transports.includes('udp') ? 'udp' : 'tcp';
  }

  /**
   * Next hop for a URI (§8.1.2 without RFC 3263 SRV lookups: host, port or the transport's default, transport
   * param). A sips: URI always means TLS (RFC 5630 §3.1.3: every hop secured), whatever its transport param.
   */
  targetFor(uri: string): Flow | undefined {
    const parsed = parseUri(uri.replace(/^<|>$/g, ''));
    if (parsed === undefined || parsed.host === '') return undefined;
    const param = parsed.params.get('transport')?.toLowerCase();
    const transport: SipTransport =
      parsed.scheme === 'sips'
        ? 'tls'
        : param === 'tcp' || param === 'udp' || param === 'tls'
          ? param
          : this.defaultTransport();
    if (!this.options.transports.includes(transport)) return undefined;
    const address = socketHost(parsed.host);
    return {
      transport,
      address,
      port: parsed.port ?? defaultPort(transport),
      ...(transport === 'tls' ? { serverName: address } : {}),
    };
  }

  /** §8.2.6.2: copy Via, From, To, Call-ID, CSeq; add the To tag when the request had none. */
  createResponse(
    request: SipRequest,
    status: number,
    options: {
      readonly reason?: string;
      readonly toTag?: string;
      readonly headers?: Readonly<Record<string, string>>;
      readonly body?: string;
      readonly contentType?: string;
    } = {},
  ): SipResponse {
    const headers = new SipHeaders();
    for (const via of request.headers.getAll('Via')) headers.append('Via', via);
    if (status >= 180 && status < 300) {
      for (const rr of request.headers.getAll('Record-Route')) headers.append('Record-Route', rr);
    }
    // §8.2.6.2: copy what the request has; a 400 for a missing header cannot copy it.
    const copy = (name: string, value: string | undefined): void => {
      if (value !== undefined) headers.append(name, value);
    };
    copy('From', request.headers.get('From'));
    let to = request.headers.get('To');
    // §8.2.6.2: a response that leaves the request's To without a tag adds ours — every final response does,
    // a provisional one only when it may establish an early dialog (not 100).
    if (to !== undefined && status > 100 && !/;\s*tag\s*=/i.test(to)) {
      if (options.toTag !== undefined) to += `;tag=${options.toTag}`;
      else if (status >= 200) to += `;tag=${randomToken()}`;
    }
    copy('To', to);
    copy('Call-ID', request.headers.get('Call-ID'));
    copy('CSeq', request.headers.get('CSeq'));
    headers.append('Server', this.options.userAgent);
    for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
    const body = options.body === undefined ? Buffer.alloc(0) : Buffer.from(options.body, 'utf8');
    if (body.length > 0) headers.set('Content-Type', options.contentType ?? 'application/sdp');
    return { kind: 'response', status, reason: options.reason ?? reasonPhrase(status), headers, body };
  }

  /** Send a response outside any transaction (400s to broken requests, 2xx retransmissions). */
  sendResponse(request: SipRequest, response: SipResponse, flow: Flow): void {
    void this.transport.send(response, this.responseFlow(request, flow));
  }

  private responseFlow(request: SipRequest, flow: Flow): Flow {
    return responseTarget(request.headers.get('Via'), flow, this.transport.isOpen(flow.connectionId));
  }

  /** Send a request statelessly (ACK for a 2xx, §13.2.2.4). Adds a Via when missing. */
  sendStateless(request: SipRequest, target: Flow): void {
    if (!request.headers.has('Via')) request.headers.prepend('Via', this.via(target.transport, newBranch()));
    void this.transport.send(request, target);
  }

  /** Our Via; over TLS with `alias` (RFC 5923 §5): the peer may send its requests back on our connection. */
  via(transport: SipTransport, branch: string): string {
    const alias = transport === 'tls' ? ';alias' : '';
    return `SIP/2.0/${transport.toUpperCase()} ${uriHost(this.options.publicHost)}:${this.transport.portFor(transport)};branch=${branch};rport${alias}`;
  }

  /** Start a client transaction. Adds a Via with a fresh branch unless the request already has one (CANCEL). */
  sendRequest(request: SipRequest, target: Flow, callbacks: RequestCallbacks): ClientTransaction {
    if (!request.headers.has('Via')) request.headers.prepend('Via', this.via(target.transport, newBranch()));
    if (!request.headers.has('Max-Forwards')) request.headers.append('Max-Forwards', '70');
    if (!request.headers.has('User-Agent')) request.headers.append('User-Agent', this.options.userAgent);
    const key = clientKey(topBranch(request.headers) ?? newBranch(), request.method);
    const deps = {
      scheduler: this.options.scheduler,
      timers: this.options.timers,
      reliable: isStream(target.transport),
      send: (req: SipRequest) =>
        void this.transport.send(req, target).then((ok) => {
          // §8.1.3.1: a transport failure (e.g. TCP connect refused) is treated as a 503 from the peer.
          if (!ok && req === request && (tx.state === 'calling' || tx.state === 'trying')) {
            tx.receive(
              this.createResponse(request, 503, { reason: 'Service Unavailable - Transport Error' }),
            );
          }
        }),
      onResponse: callbacks.onResponse,
      onTimeout: callbacks.onTimeout,
      onTerminated: () => {
        if (this.clientTxs.get(key) === tx) this.clientTxs.delete(key);
      },
    };
    const tx: ClientTransaction =
      request.method === 'INVITE'
        ? new InviteClientTransaction(request, deps)
        : new NonInviteClientTransaction(request, deps);
    this.clientTxs.set(key, tx);
    this.stats.clientTransactions++;
    tx.start();
    return tx;
  }

  /**
   * A message the parser rejected. A response, an ACK, or bytes that are not recognisably a request are
   * dropped silently (§8.2 answers requests only; RFC 4475 §3.1.2.5, §3.1.2.19); a request is answered 505
   * for another SIP version (§8.2 / RFC 4475 §3.1.2.16), else 400 naming the framing error.
   */
  private onUnparseable(error: string, message: SipMessage | undefined, flow: Flow): void {
    this.logger.debug({ error, transport: flow.transport }, 'sip message unparseable');
    if (message?.kind !== 'request' || message.method === 'ACK') {
      this.stats.dropped++;
      return;
    }
    if (error === VERSION_ERROR) {
      this.sendResponse(message, this.createResponse(message, 505), flow);
      return;
    }
    this.stats.badRequestsSent++;
    this.sendResponse(message, this.createResponse(message, 400, { reason: `Bad Request - ${error}` }), flow);
  }

  private onMessage(message: SipMessage, flow: Flow): void {
    if (message.kind === 'response') {
      this.onResponse(message);
      return;
    }
    const check = validateRequest(message);
    if (!check.ok) {
      if (!check.respond || message.method === 'ACK') {
        this.stats.dropped++;
        return;
      }
      if (check.status === 400) this.stats.badRequestsSent++;
      this.sendResponse(message, this.createResponse(message, check.status, { reason: check.reason }), flow);
      return;
    }
    this.onRequest(message, flow);
  }

  private onResponse(response: SipResponse): void {
    const branch = topBranch(response.headers);
    const cseq = parseCSeq(response.headers.get('CSeq') ?? '');
    if (branch === undefined || cseq === undefined) {
      this.stats.dropped++;
      return;
    }
    const tx = this.clientTxs.get(clientKey(branch, cseq.method));
    if (tx !== undefined) {
      tx.receive(response);
      return;
    }
    if (cseq.method === 'INVITE' && response.status >= 200 && response.status < 300) {
      this.handlers?.onStray2xx(response);
    }
  }

  private onRequest(request: SipRequest, flow: Flow): void {
    this.logger.debug({ method: request.method, transport: flow.transport }, 'sip request received');
    const handlers = this.handlers;
    const key = serverKey(request);
    if (handlers === undefined || key === undefined) {
      this.stats.dropped++;
      return;
    }
    const existing = this.serverTxs.get(key);
    if (request.method === 'ACK') {
      if (existing instanceof InviteServerTransaction && existing.receive(request)) return;
      handlers.onAck(request, flow);
      return;
    }
    if (existing !== undefined) {
      existing.receive(request);
      return;
    }
    if (this.serverTxs.size >= this.maxTransactions) {
      this.stats.overloadRejected++;
      this.sendResponse(
        request,
        this.createResponse(request, 503, { headers: { 'Retry-After': '5' } }),
        flow,
      );
      return;
    }
    const tx = this.createServerTx(request, flow, key);
    if (request.method === 'CANCEL') {
      // §9.2: CANCEL matches the INVITE transaction with the same branch (and sent-by).
      const invite = this.serverTxs.get(key.replace(/\|CANCEL$/, '|INVITE'));
      if (!(invite instanceof InviteServerTransaction)) {
        tx.respond(this.createResponse(request, 481));
        return;
      }
      // §9.2: the 200 to the CANCEL carries the same To tag as the responses to the INVITE.
      tx.respond(this.createResponse(request, 200, { toTag: invite.localTag }));
      if (invite.state === 'proceeding') handlers.onCancel(invite);
      return;
    }
    handlers.onRequest(request, tx, flow);
  }

  private createServerTx(request: SipRequest, flow: Flow, key: string): ServerTransaction {
    const target = (): Flow => this.responseFlow(request, flow);
    const deps = {
      scheduler: this.options.scheduler,
      timers: this.options.timers,
      reliable: isStream(flow.transport),
      send: (res: SipResponse) => void this.transport.send(res, target()),
      onTerminated: () => {
        if (this.serverTxs.get(key) === tx) this.serverTxs.delete(key);
      },
    };
    const tx: ServerTransaction =
      request.method === 'INVITE'
        ? new InviteServerTransaction(request, deps)
        : new NonInviteServerTransaction(request, deps);
    if (tx instanceof InviteServerTransaction) tx.localTag = randomToken();
    this.serverTxs.set(key, tx);
    this.stats.serverTransactions++;
    // §17.2.1: answer INVITE with 100 Trying at once so the client stops Timer A retransmissions.
    if (tx instanceof InviteServerTransaction) tx.respond(this.createResponse(request, 100));
    return tx;
  }

  async start(): Promise<void> {
    await this.transport.start();
  }

  async close(): Promise<void> {
    for (const tx of [...this.serverTxs.values(), ...this.clientTxs.values()]) tx.terminate();
    this.serverTxs.clear();
    this.clientTxs.clear();
    await this.transport.close();
  }
}
