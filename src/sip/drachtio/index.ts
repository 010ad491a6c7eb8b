import type { Logger } from 'pino';
import { SwitchboardError } from '../../errors.js';
import type { Registration, RegistrationBinding } from '../registration.js';
import { SipError, type Dialog, type DialOptions, type IncomingCall, type Signaling } from '../signaling.js';
import { ALLOW_HEADER, refuseRequest } from '../request-policy.js';
import type {
  DrachtioApi,
  DrachtioDialog,
  DrachtioRequest,
  DrachtioResponse,
  DrachtioSentRequest,
  OutOfDialogMethod,
} from './api.js';
import { DrachtioDialogAdapter } from './dialog.js';
import { DrachtioIncomingCall } from './incoming-call.js';
import { parseNameAddr } from './name-addr.js';
import { createSrfApi } from './srf-api.js';

export type { DrachtioApi } from './api.js';

export interface DrachtioSignalingOptions {
  /** drachtio-server admin address (inbound mode: we dial it). */
  readonly host: string;
  readonly port?: number;
  readonly secret: string;
  readonly tags?: readonly string[];
  /** Host used in our default From URI for outbound calls. */
  readonly publicHost?: string;
  readonly logger: Logger;
  /** Cap of the library's reconnect backoff (150 ms × 1.7ⁿ). */
  readonly reconnectMaxDelayMs?: number;
  /** How long start() waits for the first successful connection. */
  readonly connectTimeoutMs?: number;
  /** Injected for tests; defaults to a real drachtio-srf app. */
  readonly createApi?: (tags: readonly string[]) => DrachtioApi;
}

const DEFAULT_ADMIN_PORT = 9022;
const DEFAULT_DIAL_TIMEOUT_MS = 60_000;

function statusOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number')
    return err.status;
  return undefined;
}

const REFUSED_METHODS: readonly OutOfDialogMethod[] = [
  'register',
  'subscribe',
  'publish',
  'message',
  'notify',
  'info',
  'refer',
];

/** The To header carries a tag: the request belongs to a dialog (RFC 3261 §12.2.2). */
function hasToTag(req: DrachtioRequest): boolean {
  return /;\s*tag\s*=/i.test(req.get('To') ?? req.get('t') ?? '');
}

/**
 * §8.2 checks shared with the embedded backend (405/416/420/406). drachtio-server has already validated the
 * syntax (400) and answers CANCEL itself; what is left is what only the application knows.
 */
function refused(req: DrachtioRequest, res: DrachtioResponse): boolean {
  const answer = refuseRequest(req.method, req.uri, (name) => req.get(name));
  if (answer === undefined) return false;
  res.send(answer.status, answer.reason, answer.headers === undefined ? {} : { headers: answer.headers });
  return true;
}

function abortReasonOf(holder: { reason?: SipError }): SipError | undefined {
  return holder.reason;
}

/** {@link Signaling} over drachtio-srf in inbound mode: we connect to drachtio-server's admin port. */
export class DrachtioSignaling implements Signaling {
  readonly name = 'drachtio' as const;
  readonly #options: DrachtioSignalingOptions;
  readonly #logger: Logger;
  readonly #dialogs = new Set<DrachtioDialogAdapter>();
  #api: DrachtioApi | undefined;
  #connected = false;
  #closed = false;
  #inviteHandler: ((call: IncomingCall) => void) | undefined;
  /** Set while draining: OPTIONS get 503 with this Retry-After. */
  #unavailableRetryAfterS: number | undefined;

  constructor(options: DrachtioSignalingOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'sip-drachtio' });
  }

  get connected(): boolean {
    return this.#connected;
  }

  onInvite(handler: (call: IncomingCall) => void): void {
    this.#inviteHandler = handler;
  }

  setUnavailable(retryAfterS: number | undefined): void {
    this.#unavailableRetryAfterS = retryAfterS;
  }

  /** Outbound REGISTER lives in the embedded UA; drachtio-server deployments register from their proxy. */
  register(_binding: RegistrationBinding): Registration {
    throw new SwitchboardError(
      'SIP_REGISTER_UNSUPPORTED',
      'outbound REGISTER is not supported on the drachtio backend (use SIGNALING=embedded)',
    );
  }

  async start(): Promise<void> {
    if (this.#api) throw new SipError(500, 'DrachtioSignaling already started');
    const api = (this.#options.createApi ?? createSrfApi)(this.#options.tags ?? []);
    this.#api = api;
    api.invite((req, res) => {
      if (refused(req, res)) return;
      const call = new DrachtioIncomingCall(req, res, {
        api,
        logger: this.#logger,
        onDialog: (d) => this.#dialogs.add(d),
        onDialogEnded: (d) => this.#dialogs.delete(d),
      });
      if (!this.#inviteHandler || this.#closed) {
        void call.reject(503, { reason: 'Service Unavailable' });
        return;
      }
      this.#inviteHandler(call);
    });
    api.options((req, res) => {
      if (refused(req, res)) return;
      const retryAfterS = this.#unavailableRetryAfterS;
      if (retryAfterS !== undefined)
        res.send(503, 'Service Unavailable', { headers: { 'Retry-After': String(retryAfterS) } });
      else res.send(200, undefined, { headers: { Allow: ALLOW_HEADER, Accept: 'application/sdp' } });
    });
    for (const method of REFUSED_METHODS) {
      api.method(method, (req, res) => {
        // §12.2.2: a request naming a dialog we do not have gets 481; otherwise the method is not served
        // outside a dialog (REGISTER, SUBSCRIBE, PUBLISH, MESSAGE never; INFO/REFER/NOTIFY only in one).
        if (hasToTag(req)) res.send(481, 'Call/Transaction Does Not Exist');
        else res.send(405, 'Method Not Allowed', { headers: { Allow: ALLOW_HEADER } });
      });
    }

    // Socket errors are re-emitted on Srf and throw without a listener (sip.md §2).
    api.on('error', (err) => this.#logger.warn({ err }, 'drachtio connection error'));
    api.on('reconnecting', (info) =>
      this.#logger.info({ delayMs: info.delay, attempt: info.attempt }, 'reconnecting to drachtio'),
    );
    api.on('close', () => {
      if (!this.#connected) return;
      this.#connected = false;
      this.#logger.warn('lost drachtio connection');
      // The server keeps the SIP side, but this app can no longer act on these dialogs.
      for (const d of [...this.#dialogs]) d.markEnded('transport-error');
    });

    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new SipError(503, `no connection to drachtio-server at ${this.#options.host}`));
      }, this.#options.connectTimeoutMs ?? 30_000);
      timer.unref?.();
      // connect() returns the app, not a Promise: the outcome is the 'connect' event.
      api.on('connect', (err, hostports) => {
        if (err) {
          this.#logger.error({ err }, 'drachtio authentication failed');
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            reject(new SipError(503, 'drachtio-server refused the connection', { cause: err }));
          }
          return;
        }
        this.#connected = true;
        this.#logger.info({ hostports }, 'connected to drachtio');
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve();
        }
      });
      api.connect({
        host: this.#options.host,
        port: this.#options.port ?? DEFAULT_ADMIN_PORT,
        secret: this.#options.secret,
        ...(this.#options.tags ? { tags: this.#options.tags } : {}),
        enablePing: true,
        pingInterval: 10_000,
        reconnect: { retryMaxDelay: this.#options.reconnectMaxDelayMs ?? 10_000 },
      });
    }).catch((err: unknown) => {
      this.#closed = true;
      api.disconnect();
      throw err;
    });
  }

  async close(): Promise<void> {
    if (this.#closed && !this.#api) return;
    this.#closed = true;
    const pending = [...this.#dialogs].map((d) =>
      d.hangup().catch((err: unknown) => this.#logger.warn({ err }, 'BYE on close failed')),
    );
    await Promise.all(pending);
    this.#connected = false;
    this.#api?.disconnect();
    this.#api = undefined;
  }

  async dial(uri: string, options: DialOptions): Promise<Dialog> {
    const api = this.#api;
    if (!api || !this.#connected) throw new SipError(503, 'not connected to drachtio-server');
    const from = options.from ?? `sip:switchboard@${this.#options.publicHost ?? 'localhost'}`;
    const headers: Record<string, string> = {
      From: from.startsWith('<') ? from : `<${from}>`,
      'Content-Type': 'application/sdp',
      ...options.headers,
    };
    let sent: DrachtioSentRequest | undefined;
    // A holder, not a `let`: it is set from callbacks, which control-flow narrowing cannot see.
    const aborted: { reason?: SipError } = {};
    const cancel = (reason: SipError): void => {
      aborted.reason ??= reason;
      sent?.cancel();
    };
    const timer = setTimeout(
      () => cancel(new SipError(408, 'no final response')),
      options.timeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
    );
    timer.unref?.();
    const onAbort = (): void => cancel(new SipError(487, 'dial aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) aborted.reason = new SipError(487, 'dial aborted');

    let dlg: DrachtioDialog;
    try {
      if (aborted.reason) throw aborted.reason;
      dlg = await api.createUAC(
        uri,
        {
          localSdp: options.sdpOffer,
          headers,
          ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
          ...(options.auth !== undefined ? { auth: options.auth } : {}),
        },
        {
          cbRequest: (_err, req) => {
            sent = req;
            if (aborted.reason) req.cancel();
          },
          cbProvisional: (res) => options.onProvisional?.(res.status, res.reason),
        },
      );
    } catch (err) {
      if (aborted.reason) throw aborted.reason;
      throw new SipError(statusOf(err) ?? 500, 'outbound call failed', { cause: err });
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
    const dialog = new DrachtioDialogAdapter(dlg, {
      direction: 'outbound',
      local: parseNameAddr(headers.From),
      remote: parseNameAddr(`<${uri}>`),
      logger: this.#logger.child({ callId: dlg.sip.callId }),
      onEnded: (d) => this.#dialogs.delete(d),
    });
    this.#dialogs.add(dialog);
    const late = abortReasonOf(aborted);
    if (late) {
      // A 2xx that raced the CANCEL: RFC 3261 §9.1 — end it with BYE.
      await dialog.hangup();
      throw late;
    }
    return dialog;
  }
}
