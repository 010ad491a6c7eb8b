/**
 * A recording fake of the drachtio-srf surface the adapter uses (src/sip/drachtio/api.ts). It mirrors the
 * library's observable behaviour that matters: connect() returns nothing useful and reports through the
 * 'connect' event; createUAS resolves when the 200 is "sent" and the ACK is a later dialog event; a CANCEL
 * before createUAS makes it reject with a bare string.
 */
import { EventEmitter } from 'node:events';
import type {
  DrachtioApi,
  DrachtioConnectOptions,
  DrachtioDialog,
  DrachtioRequest,
  DrachtioResponse,
  DrachtioResponseMessage,
  DrachtioUacCallbacks,
  DrachtioUacOptions,
  Headers,
  OutOfDialogMethod,
} from '../../../src/sip/drachtio/api.js';

export class FakeRequest extends EventEmitter implements DrachtioRequest {
  method = 'INVITE';
  uri = 'sip:agent@192.0.2.1';
  body: string | undefined;
  /** drachtio-srf 5.0.29 does not set `callId` on requests; the adapter reads the Call-ID header. */
  callId: string | undefined = undefined;
  source_address = '198.51.100.2';
  source_port: number | string = 5060;
  protocol = 'udp';
  meta?: { source?: string };
  readonly headers: Record<string, string>;
  canceled = false;

  constructor(headers: Record<string, string>, body?: string) {
    super();
    this.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    this.body = body;
  }
  get(name: string): string | undefined {
    return this.headers[name.toLowerCase()];
  }
  has(name: string): boolean {
    return name.toLowerCase() in this.headers;
  }
  cancel(): void {
    this.canceled = true;
    this.emit('cancel');
  }
}

export interface SentResponse {
  status: number;
  reason: string | undefined;
  opts: { headers?: Headers; body?: string } | undefined;
}

export class FakeResponse implements DrachtioResponse {
  readonly sent: SentResponse[] = [];
  send(
    status: number,
    reason?: string,
    opts?: { headers?: Headers; body?: string },
    cb?: (err: unknown) => void,
  ): void {
    this.sent.push({ status, reason, opts });
    cb?.(null);
  }
}

export interface FakeRequestSent {
  method: string;
  headers?: Headers;
  body?: string;
}

export class FakeDialog extends EventEmitter implements DrachtioDialog {
  readonly id: string;
  readonly type: 'uas' | 'uac';
  readonly sip: { callId: string; localTag: string; remoteTag: string };
  readonly local: { uri: string; sdp: string; contact: string };
  readonly remote: { uri: string; sdp: string };
  readonly requests: FakeRequestSent[] = [];
  destroyed: { headers?: Headers } | undefined;
  /** How the next request() answers; default 200 (202 for REFER). */
  respond: (opts: FakeRequestSent) => DrachtioResponseMessage | Error = (o) => ({
    status: o.method === 'REFER' ? 202 : 200,
    reason: o.method === 'REFER' ? 'Accepted' : 'OK',
    body: o.method === 'INVITE' ? 'v=0\r\nremote-answer\r\n' : '',
    get: () => undefined,
  });

  constructor(type: 'uas' | 'uac', callId: string, localSdp: string, remoteSdp: string) {
    super();
    this.type = type;
    this.sip = { callId, localTag: 'ltag', remoteTag: 'rtag' };
    this.id = `${callId};from-tag=${type === 'uas' ? 'rtag' : 'ltag'}`;
    this.local = {
      uri: 'sip:switchboard@192.0.2.1',
      sdp: localSdp,
      contact: '<sip:switchboard@192.0.2.1:5060>',
    };
    this.remote = { uri: 'sip:caller@198.51.100.2', sdp: remoteSdp };
  }
  async request(opts: {
    method: string;
    headers?: Headers;
    body?: string;
  }): Promise<DrachtioResponseMessage> {
    this.requests.push(opts);
    const r = this.respond(opts);
    if (r instanceof Error) throw r;
    return r;
  }
  async destroy(opts?: { headers?: Headers }): Promise<unknown> {
    this.destroyed = opts ?? {};
    return undefined;
  }
}

export class FakeApi extends EventEmitter implements DrachtioApi {
  connectOptions: DrachtioConnectOptions | undefined;
  disconnected = false;
  inviteHandler: ((req: DrachtioRequest, res: DrachtioResponse) => void) | undefined;
  optionsHandler: ((req: DrachtioRequest, res: DrachtioResponse) => void) | undefined;
  readonly methodHandlers = new Map<
    OutOfDialogMethod,
    (req: DrachtioRequest, res: DrachtioResponse) => void
  >();
  readonly uas: { req: DrachtioRequest; res: DrachtioResponse; localSdp: string; dialog?: FakeDialog }[] = [];
  readonly uac: { uri: string; opts: DrachtioUacOptions; callbacks: DrachtioUacCallbacks }[] = [];
  /** How createUAC ends; default: a dialog. */
  uacOutcome: (uri: string) => Promise<DrachtioDialog> = async (uri) =>
    new FakeDialog('uac', 'out-1', 'v=0\r\nours\r\n', `v=0\r\nfrom ${uri}\r\n`);

  connect(opts: DrachtioConnectOptions): void {
    this.connectOptions = opts;
  }
  disconnect(): void {
    this.disconnected = true;
  }
  invite(handler: (req: DrachtioRequest, res: DrachtioResponse) => void): void {
    this.inviteHandler = handler;
  }
  options(handler: (req: DrachtioRequest, res: DrachtioResponse) => void): void {
    this.optionsHandler = handler;
  }
  method(name: OutOfDialogMethod, handler: (req: DrachtioRequest, res: DrachtioResponse) => void): void {
    this.methodHandlers.set(name, handler);
  }
  async createUAS(
    req: DrachtioRequest,
    res: DrachtioResponse,
    opts: { localSdp: string; headers?: Headers },
  ): Promise<DrachtioDialog> {
    const entry: (typeof this.uas)[number] = { req, res, localSdp: opts.localSdp };
    this.uas.push(entry);
    // drachtio-srf: a CANCEL that arrived before createUAS makes it reject with a bare string.
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- faithful to drachtio-srf
    if ((req as FakeRequest).canceled) throw 'call canceled';
    res.send(200, undefined, { body: opts.localSdp, ...(opts.headers ? { headers: opts.headers } : {}) });
    const dialog = new FakeDialog('uas', req.get('Call-ID') ?? '', opts.localSdp, req.body ?? '');
    entry.dialog = dialog;
    return dialog;
  }
  async createUAC(
    uri: string,
    opts: DrachtioUacOptions,
    callbacks: DrachtioUacCallbacks,
  ): Promise<DrachtioDialog> {
    this.uac.push({ uri, opts, callbacks });
    return await this.uacOutcome(uri);
  }

  /** Simulate drachtio-server accepting the app's authentication. */
  acceptConnection(): void {
    this.emit('connect', null, 'udp/192.0.2.1:5060');
  }
  /** Deliver an out-of-dialog request of any method to the handler drachtio-srf would call. */
  deliver(req: FakeRequest): FakeResponse {
    const res = new FakeResponse();
    if (req.method === 'INVITE') this.inviteHandler?.(req, res);
    else if (req.method === 'OPTIONS') this.optionsHandler?.(req, res);
    else this.methodHandlers.get(req.method.toLowerCase() as OutOfDialogMethod)?.(req, res);
    return res;
  }
  /** Deliver an INVITE. */
  deliverInvite(req: FakeRequest): FakeResponse {
    const res = new FakeResponse();
    this.inviteHandler?.(req, res);
    return res;
  }
}

export function inDialogRequest(method: string, headers: Record<string, string>, body?: string): FakeRequest {
  const r = new FakeRequest(headers, body);
  r.method = method;
  return r;
}
