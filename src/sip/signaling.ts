import type { EventEmitter } from 'node:events';
import { SwitchboardError } from '../errors.js';
import type { Registration, RegistrationBinding } from './registration.js';

export type SipTransport = 'udp' | 'tcp' | 'tls';

/** A parsed name-addr (From, To, Contact). */
export interface NameAddr {
  readonly displayName?: string;
  readonly uri: string;
  /** The user part of the URI (the called/calling number), '' when absent. */
  readonly user: string;
  readonly host: string;
  readonly tag?: string;
}

export interface SourceAddress {
  readonly address: string;
  readonly port: number;
  readonly transport: SipTransport;
}

export interface RejectOptions {
  readonly reason?: string;
  /** Extra headers, e.g. `{ Warning: '304 switchboard "Incompatible media format"' }` for a 488. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface IncomingCallEvents {
  /** The caller sent CANCEL before we answered; the backend has already sent 200 (CANCEL) and 487. */
  cancel: [];
}

/** An INVITE that has not been answered yet. */
export interface IncomingCall extends EventEmitter<IncomingCallEvents> {
  readonly callId: string;
  readonly requestUri: string;
  readonly from: NameAddr;
  readonly to: NameAddr;
  readonly source: SourceAddress;
  /** SDP offer in the INVITE; undefined for a delayed offer (we offer in the 200, the answer comes in the ACK). */
  readonly sdpOffer: string | undefined;
  readonly cancelled: boolean;
  /** First value of a header, case-insensitive, compact forms understood. */
  header(name: string): string | undefined;
  /**
   * Every header line of `name` in received order (a line may itself hold a comma-separated list): for
   * headers that repeat, such as Diversion, History-Info and P-Asserted-Identity.
   */
  headerValues(name: string): readonly string[];
  /** 180 Ringing (or 183 with `earlySdp`). */
  ring(earlySdp?: string): Promise<void>;
  reject(status: number, options?: RejectOptions): Promise<void>;
  /**
   * Send 200 OK with `localSdp` (our answer, or our offer for a delayed-offer INVITE). Resolves once the ACK
   * has arrived (Dialog.remoteSdp then holds the offer or the ACK's answer); rejects with a SipError if the
   * ACK never comes (Timer H) or the call was cancelled first.
   */
  answer(localSdp: string): Promise<Dialog>;
}

/** An in-dialog re-INVITE or UPDATE carrying (or asking for) a new offer. */
export interface ModifyRequest {
  readonly method: 'INVITE' | 'UPDATE';
  /** undefined for an offerless re-INVITE: answer with an offer, the answer comes in the ACK. */
  readonly sdpOffer: string | undefined;
  accept(localSdp: string): void;
  reject(status: number, options?: RejectOptions): void;
}

export interface InfoRequest {
  readonly contentType: string;
  readonly body: string;
}

export type DialogEndReason =
  | 'remote-bye'
  | 'local-bye'
  | 'ack-timeout'
  | 'transport-error'
  | 'shutdown'
  /** RFC 4028: no session refresh arrived in time (or ours failed); the backend sent BYE. */
  | 'session-expired';

export interface DialogEvents {
  /** The dialog is over (BYE either way, ACK timeout, shutdown). Emitted once. */
  ended: [{ readonly reason: DialogEndReason }];
  /** A re-INVITE/UPDATE (hold, unhold, codec change). Must be accepted or rejected. */
  modify: [ModifyRequest];
  /** SIP INFO (e.g. application/dtmf-relay); the backend has already answered 200. */
  info: [InfoRequest];
  /** A NOTIFY for our REFER subscription (message/sipfrag), already answered 200. */
  notify: [
    {
      readonly event: string;
      readonly contentType: string;
      readonly body: string;
      readonly subscriptionState: string;
    },
  ];
}

export interface ReferResult {
  /** Final status from the NOTIFY sipfrag (e.g. 200), or the REFER's own failure status (e.g. 403, 405). */
  readonly status: number;
  readonly reason: string;
}

/** An established call leg (RFC 3261 §12). */
export interface Dialog extends EventEmitter<DialogEvents> {
  /** `<call-id>;from-tag=<tag>`, unique per dialog. */
  readonly id: string;
  readonly callId: string;
  readonly direction: 'inbound' | 'outbound';
  readonly localSdp: string;
  /** The peer's current SDP; updated when a modify is accepted. */
  readonly remoteSdp: string;
  readonly remote: NameAddr;
  readonly local: NameAddr;
  readonly ended: boolean;
  /** BYE; resolves when the BYE transaction completes (or at once if already ended). */
  hangup(headers?: Readonly<Record<string, string>>): Promise<void>;
  /** RFC 3515 REFER; resolves with the final NOTIFY sipfrag status (or the REFER's failure status). */
  refer(
    target: string,
    options?: { readonly referredBy?: string; readonly timeoutMs?: number },
  ): Promise<ReferResult>;
  /** In-dialog INFO; resolves with the final response status. */
  sendInfo(contentType: string, body: string): Promise<number>;
  /** Send a re-INVITE with a new offer (hold/unhold); resolves with the peer's answer SDP. */
  modify(localSdp: string): Promise<string>;
}

export interface DialOptions {
  readonly sdpOffer: string;
  /** From URI; defaults to `sip:switchboard@<public host>`. */
  readonly from?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Over TLS: `false` accepts a certificate that does not verify (a lab PBX's self-signed one; the trunk's
   * `tls_verify: false`). Default true: the certificate must chain to the system roots or SIP_TLS_CA and name
   * the host dialled.
   */
  readonly tlsVerify?: boolean;
  /** Digest credentials (RFC 2617/7616, MD5 and SHA-256) answered on a 401/407. */
  readonly auth?: { readonly username: string; readonly password: string };
  /** Outbound proxy URI; the request URI stays `uri`. */
  readonly proxy?: string;
  /** Give up with 408 when no final response arrives in time (default 60 s). */
  readonly timeoutMs?: number;
  /** Aborting sends CANCEL (or BYE after a late 2xx). */
  readonly signal?: AbortSignal;
  readonly onProvisional?: (status: number, reason: string) => void;
  /**
   * RFC 3262 reliable provisionals: `supported` (default) offers 100rel, `required` puts it in Require (a
   * callee without it answers 420), `off` leaves it out. Reliable provisionals are PRACKed by the backend.
   */
  readonly prack?: 'required' | 'supported' | 'off';
  /**
   * Early media: a provisional response (183 Session Progress, usually reliable) carried the callee's SDP
   * answer. Called again only when a later provisional brings a different SDP. The final 2xx may repeat it,
   * change it, or (after a reliable provisional) carry none: Dialog.remoteSdp is the SDP in force.
   */
  readonly onEarlyMedia?: (sdp: string) => void;
}

/** The signaling layer: one interface, two backends (embedded, drachtio). */
export interface Signaling {
  readonly name: 'embedded' | 'drachtio';
  start(): Promise<void>;
  /** Stops listening; ends every dialog with BYE. */
  close(): Promise<void>;
  /** True while the backend can send and receive (drachtio: connected to the server). */
  readonly connected: boolean;
  onInvite(handler: (call: IncomingCall) => void): void;
  /** Outbound INVITE as UAC; resolves with the dialog on 2xx, rejects with SipError(status) otherwise. */
  dial(uri: string, options: DialOptions): Promise<Dialog>;
  /**
   * Drain (issue 12): with a number, out-of-dialog OPTIONS are answered 503 with that Retry-After (a proxy's
   * keepalive takes the instance out of rotation); undefined: 200 again. Dialogs in progress are not affected.
   */
  setUnavailable(retryAfterS: number | undefined): void;
  /**
   * REGISTER as a UAC (issue 13): keep `binding` registered (refresh, re-register, keep-alives) until the
   * returned Registration's unregister(). Throws SIP_REGISTER_UNSUPPORTED where the backend cannot.
   */
  register(binding: RegistrationBinding): Registration;
}

export class SipError extends SwitchboardError {
  readonly status: number;
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(`SIP_${status}`, message, options);
    this.status = status;
  }
}
