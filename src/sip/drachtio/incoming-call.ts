import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import {
  SipError,
  type Dialog,
  type IncomingCall,
  type IncomingCallEvents,
  type NameAddr,
  type RejectOptions,
  type SourceAddress,
} from '../signaling.js';
import type { DrachtioApi, DrachtioDialog, DrachtioRequest, DrachtioResponse } from './api.js';
import { DrachtioDialogAdapter } from './dialog.js';
import { parseNameAddr } from './name-addr.js';

/** RFC 3261 §7.3.3 compact header forms. */
const COMPACT: Readonly<Record<string, string>> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  r: 'refer-to',
  b: 'referred-by',
};
const LONG_TO_COMPACT: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(COMPACT).map(([k, v]) => [v, k]),
);

/** RFC 3261 §17.2.1 Timer H (64·T1): how long we wait for the ACK of our 200. */
const ACK_TIMEOUT_MS = 32_000;

export interface IncomingCallDeps {
  readonly api: DrachtioApi;
  readonly logger: Logger;
  readonly onDialog: (dialog: DrachtioDialogAdapter) => void;
  readonly onDialogEnded: (dialog: DrachtioDialogAdapter) => void;
  readonly ackTimeoutMs?: number;
}

function transportOf(protocol: string): SourceAddress['transport'] {
  const p = protocol.toLowerCase();
  if (p === 'tls') return 'tls';
  return p.startsWith('tcp') ? 'tcp' : 'udp';
}

/** An INVITE received through drachtio, not yet answered. */
export class DrachtioIncomingCall extends EventEmitter<IncomingCallEvents> implements IncomingCall {
  readonly callId: string;
  readonly requestUri: string;
  readonly from: NameAddr;
  readonly to: NameAddr;
  readonly source: SourceAddress;
  readonly sdpOffer: string | undefined;
  #cancelled = false;
  #finalSent = false;
  readonly #req: DrachtioRequest;
  readonly #res: DrachtioResponse;
  readonly #deps: IncomingCallDeps;

  constructor(req: DrachtioRequest, res: DrachtioResponse, deps: IncomingCallDeps) {
    super();
    this.#req = req;
    this.#res = res;
    this.#deps = deps;
    this.callId = this.header('Call-ID') ?? req.callId ?? '';
    this.requestUri = req.uri;
    this.from = parseNameAddr(this.header('From'));
    this.to = parseNameAddr(this.header('To'));
    this.source = {
      address: req.source_address,
      port: Number(req.source_port),
      transport: transportOf(req.protocol ?? ''),
    };
    this.sdpOffer = req.body && req.body.trim() !== '' ? req.body : undefined;
    // drachtio-server has already answered the CANCEL with 200 and the INVITE with 487.
    req.on('cancel', () => {
      if (this.#cancelled || this.#finalSent) return;
      this.#cancelled = true;
      this.#finalSent = true;
      this.emit('cancel');
    });
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  header(name: string): string | undefined {
    const lower = name.toLowerCase();
    const alt = COMPACT[lower] ?? LONG_TO_COMPACT[lower];
    return this.#req.get(name) ?? (alt !== undefined ? this.#req.get(alt) : undefined);
  }

  /** drachtio-srf joins repeated header lines with commas: one entry, split by the caller's list parser. */
  headerValues(name: string): readonly string[] {
    const value = this.header(name);
    return value === undefined ? [] : [value];
  }

  async ring(earlySdp?: string): Promise<void> {
    if (this.#finalSent) return;
    await this.#send(
      earlySdp === undefined ? 180 : 183,
      undefined,
      earlySdp === undefined ? {} : { body: earlySdp, headers: { 'Content-Type': 'application/sdp' } },
    );
  }

  async reject(status: number, options?: RejectOptions): Promise<void> {
    if (this.#finalSent) return;
    this.#finalSent = true;
    await this.#send(status, options?.reason, options?.headers ? { headers: options.headers } : {});
  }

  async answer(localSdp: string): Promise<Dialog> {
    if (this.#cancelled) throw new SipError(487, 'call was cancelled before answer');
    if (this.#finalSent) throw new SipError(500, 'call already has a final response');
    this.#finalSent = true;
    let dlg: DrachtioDialog;
    try {
      dlg = await this.#deps.api.createUAS(this.#req, this.#res, {
        localSdp,
        headers: { 'Content-Type': 'application/sdp' },
      });
    } catch (err) {
      // A CANCEL that won the race surfaces as a bare string, a late one as SipError(487).
      if (typeof err === 'string' || this.#cancelled) {
        throw new SipError(487, 'call was cancelled', { cause: err });
      }
      const status = typeof err === 'object' && err !== null && 'status' in err ? Number(err.status) : 500;
      throw new SipError(Number.isFinite(status) ? status : 500, 'answer failed', { cause: err });
    }
    const dialog = new DrachtioDialogAdapter(dlg, {
      direction: 'inbound',
      local: this.to.tag === undefined ? { ...this.to, tag: dlg.sip.localTag } : this.to,
      remote: this.from,
      logger: this.#deps.logger,
      onEnded: this.#deps.onDialogEnded,
    });
    this.#deps.onDialog(dialog);
    await this.#waitForAck(dlg, dialog);
    return dialog;
  }

  /** RFC 3261 §13.3.1.4: the dialog is confirmed by the ACK; drachtio-server resends the 200 meanwhile. */
  async #waitForAck(dlg: DrachtioDialog, dialog: DrachtioDialogAdapter): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        dialog.markEnded('ack-timeout');
        reject(new SipError(408, 'no ACK for 200 OK'));
      }, this.#deps.ackTimeoutMs ?? ACK_TIMEOUT_MS);
      timer.unref?.();
      dlg.on('ack', () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        // The dialog's own 'ack' listener (registered first) has stored a delayed-offer answer already.
        resolve();
      });
      dialog.once('ended', ({ reason }) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(new SipError(reason === 'ack-timeout' ? 408 : 487, `dialog ended before ACK (${reason})`));
      });
    });
  }

  async #send(
    status: number,
    reason: string | undefined,
    opts: { headers?: Readonly<Record<string, string>>; body?: string },
  ): Promise<void> {
    // Resolve once handed to drachtio: its callback never fires if the admin connection is gone.
    try {
      this.#res.send(status, reason, opts, (err) => {
        if (err) this.#deps.logger.warn({ err, status }, 'sending response failed');
      });
    } catch (err) {
      // drachtio-srf throws synchronously on an unknown status code.
      this.#deps.logger.warn({ err, status }, 'sending response failed');
    }
    await Promise.resolve();
  }
}
