import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import {
  SipError,
  type Dialog,
  type DialogEndReason,
  type DialogEvents,
  type ModifyRequest,
  type NameAddr,
  type ReferResult,
} from '../signaling.js';
import type { DrachtioDialog, DrachtioRequest, DrachtioResponse } from './api.js';

const DEFAULT_REFER_TIMEOUT_MS = 32_000;

/** `SIP/2.0 200 OK` → { status: 200, reason: 'OK' } (RFC 3515 §2.4.5 message/sipfrag status line). */
export function parseSipfrag(body: string): ReferResult | undefined {
  const m = /^\s*SIP\/2\.0\s+(\d{3})\s*([^\r\n]*)/.exec(body);
  return m ? { status: Number(m[1]), reason: (m[2] ?? '').trim() } : undefined;
}

/**
 * Why drachtio ended a dialog. drachtio-server sends some BYEs itself and reports each to the app as a BYE
 * received, marked `source: 'application'`, with its Reason text (which drachtio-srf passes along): "ACK
 * timeout" (no ACK for our 2xx, RFC 3261 §13.3.1.4) and "Session timer expired" (RFC 4028 §10: the peer
 * did not refresh, or our refresh failed).
 */
export function endReasonOf(req: DrachtioRequest | undefined, reason: string | undefined): DialogEndReason {
  if (req?.meta?.source !== 'application') return 'remote-bye';
  return /session timer/i.test(reason ?? '') ? 'session-expired' : 'ack-timeout';
}

function statusOf(err: unknown): number {
  if (typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number')
    return err.status;
  return 500;
}

export interface DialogAdapterOptions {
  readonly direction: 'inbound' | 'outbound';
  readonly local: NameAddr;
  readonly remote: NameAddr;
  readonly logger: Logger;
  readonly onEnded: (dialog: DrachtioDialogAdapter) => void;
  /** Timers are injected so REFER timeouts are testable (STYLE.md §8). */
  readonly setTimer?: (fn: () => void, ms: number) => { unref?: () => void };
  readonly clearTimer?: (handle: unknown) => void;
}

/** Our {@link Dialog} over a drachtio Dialog. */
export class DrachtioDialogAdapter extends EventEmitter<DialogEvents> implements Dialog {
  readonly id: string;
  readonly callId: string;
  readonly direction: 'inbound' | 'outbound';
  readonly local: NameAddr;
  readonly remote: NameAddr;
  #localSdp: string;
  #remoteSdp: string;
  #ended = false;
  readonly #dlg: DrachtioDialog;
  readonly #logger: Logger;
  readonly #onEnded: (dialog: DrachtioDialogAdapter) => void;
  readonly #setTimer: (fn: () => void, ms: number) => unknown;
  readonly #clearTimer: (handle: unknown) => void;

  constructor(dlg: DrachtioDialog, options: DialogAdapterOptions) {
    super();
    this.#dlg = dlg;
    this.id = dlg.id;
    this.callId = dlg.sip.callId;
    this.direction = options.direction;
    this.local = options.local;
    this.remote = options.remote;
    this.#localSdp = dlg.local.sdp ?? '';
    this.#remoteSdp = dlg.remote.sdp ?? '';
    this.#logger = options.logger;
    this.#onEnded = options.onEnded;
    this.#setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.#clearTimer = options.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));

    dlg.on('destroy', (req, reason) => this.#end(endReasonOf(req, reason)));
    dlg.on('ack', (req) => {
      // Delayed offer (initial or re-INVITE): the answer arrives in the ACK.
      if (req.body) this.#remoteSdp = req.body;
    });
    dlg.on('modify', (req, res) => this.#onModify('INVITE', req, res));
    dlg.on('update', (req, res) => {
      if (!req.body) {
        res.send(200); // session refresh (RFC 4028) without SDP
        return;
      }
      this.#onModify('UPDATE', req, res);
    });
    dlg.on('info', (req, res) => {
      res.send(200);
      this.emit('info', { contentType: req.get('Content-Type') ?? '', body: req.body ?? '' });
    });
    dlg.on('notify', (req, res) => {
      res.send(200);
      this.emit('notify', {
        event: req.get('Event') ?? '',
        contentType: req.get('Content-Type') ?? '',
        body: req.body ?? '',
        subscriptionState: req.get('Subscription-State') ?? '',
      });
    });
    dlg.on('refer', (_req, res) => {
      // We never accept transfers requested by the peer: the server decides transfers (DESIGN §4).
      res.send(403, 'Transfer Not Allowed');
    });
  }

  get localSdp(): string {
    return this.#localSdp;
  }

  get remoteSdp(): string {
    return this.#remoteSdp;
  }

  get ended(): boolean {
    return this.#ended;
  }

  #onModify(method: 'INVITE' | 'UPDATE', req: DrachtioRequest, res: DrachtioResponse): void {
    const offer = req.body ? req.body : undefined;
    const contentType = req.get('Content-Type');
    if (offer !== undefined && contentType !== undefined && !/^\s*application\/sdp\b/i.test(contentType)) {
      // As the embedded backend (RFC 3261 §21.4.13): a body we cannot read as an offer is 415, not a 400/488.
      res.send(415, 'Unsupported Media Type', { headers: { Accept: 'application/sdp' } });
      return;
    }
    let settled = false;
    const request: ModifyRequest = {
      method,
      sdpOffer: offer,
      accept: (localSdp) => {
        if (settled) return;
        settled = true;
        this.#localSdp = localSdp;
        if (offer !== undefined) this.#remoteSdp = offer;
        res.send(200, undefined, {
          body: localSdp,
          headers: { 'Content-Type': 'application/sdp', Contact: this.#dlg.local.contact },
        });
      },
      reject: (status, options) => {
        if (settled) return;
        settled = true;
        res.send(status, options?.reason, options?.headers ? { headers: options.headers } : {});
      },
    };
    if (this.listenerCount('modify') === 0) {
      // Nobody to decide: keep the current session (RFC 3261 §14.2 allows refusing with 488).
      request.reject(488, { headers: { Warning: '304 switchboard "Incompatible media format"' } });
      return;
    }
    this.emit('modify', request);
  }

  #end(reason: DialogEndReason): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnded(this);
    this.emit('ended', { reason });
  }

  /** Used by the backend when the admin connection is lost or on close(). */
  markEnded(reason: DialogEndReason): void {
    this.#end(reason);
  }

  async hangup(headers?: Readonly<Record<string, string>>): Promise<void> {
    if (this.#ended) return;
    this.#end('local-bye');
    try {
      await this.#dlg.destroy(headers ? { headers } : {});
    } catch (err) {
      this.#logger.warn({ err }, 'BYE failed');
    }
  }

  async refer(
    target: string,
    options?: { readonly referredBy?: string; readonly timeoutMs?: number },
  ): Promise<ReferResult> {
    if (this.#ended) throw new SipError(481, 'dialog has ended');
    const headers: Record<string, string> = { 'Refer-To': target.startsWith('<') ? target : `<${target}>` };
    const referredBy = options?.referredBy ?? this.local.uri;
    if (referredBy) headers['Referred-By'] = referredBy.startsWith('<') ? referredBy : `<${referredBy}>`;

    // Listen before sending: the first NOTIFY can overtake the 202 (RFC 3515 §2.4.4).
    return await new Promise<ReferResult>((resolve, reject) => {
      let done = false;
      const finish = (result: ReferResult | Error): void => {
        if (done) return;
        done = true;
        this.#clearTimer(timer);
        this.off('notify', onNotify);
        this.off('ended', onEnded);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      const onNotify: (...args: DialogEvents['notify']) => void = (n) => {
        if (!/^refer\b/i.test(n.event)) return;
        const frag = parseSipfrag(n.body);
        if (frag && frag.status >= 200) finish(frag);
        else if (/^terminated/i.test(n.subscriptionState))
          finish(frag ?? { status: 487, reason: 'Subscription terminated' });
      };
      const onEnded = (): void => finish({ status: 487, reason: 'Dialog ended' });
      const timer = this.#setTimer(
        () => finish({ status: 408, reason: 'No final NOTIFY' }),
        options?.timeoutMs ?? DEFAULT_REFER_TIMEOUT_MS,
      );
      this.on('notify', onNotify);
      this.on('ended', onEnded);
      this.#dlg.request({ method: 'REFER', headers }).then(
        (res) => {
          if (res.status >= 300) finish({ status: res.status, reason: res.reason });
        },
        (err: unknown) => finish({ status: statusOf(err), reason: 'REFER failed' }),
      );
    });
  }

  async sendInfo(contentType: string, body: string): Promise<number> {
    if (this.#ended) throw new SipError(481, 'dialog has ended');
    try {
      const res = await this.#dlg.request({ method: 'INFO', headers: { 'Content-Type': contentType }, body });
      return res.status;
    } catch (err) {
      throw new SipError(statusOf(err), 'INFO failed', { cause: err });
    }
  }

  async modify(localSdp: string): Promise<string> {
    if (this.#ended) throw new SipError(481, 'dialog has ended');
    let res;
    try {
      res = await this.#dlg.request({
        method: 'INVITE',
        headers: { 'Content-Type': 'application/sdp', Contact: this.#dlg.local.contact },
        body: localSdp,
      });
    } catch (err) {
      throw new SipError(statusOf(err), 're-INVITE failed', { cause: err });
    }
    if (res.status >= 300) throw new SipError(res.status, `re-INVITE rejected: ${res.status} ${res.reason}`);
    this.#localSdp = localSdp;
    if (res.body) this.#remoteSdp = res.body;
    return this.#remoteSdp;
  }
}
