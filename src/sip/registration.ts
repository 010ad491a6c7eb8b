/**
 * The outbound REGISTER contract (RFC 3261 §10, RFC 5626, RFC 5627): what the call layer asks the signaling
 * backend for when a tenant puts an agent on a PBX extension or a registration-based trunk. One
 * `Registration` per binding; the backend keeps it alive (refresh, re-register, keep-alives) until
 * `unregister()`.
 */
import type { EventEmitter } from 'node:events';
import type { SipTransport } from './signaling.js';

export interface RegistrationBinding {
  /** Address of record, e.g. `sip:1001@pbx.example.com` (To and From of the REGISTER). */
  readonly aor: string;
  /** Registrar URI, e.g. `sip:pbx.example.com:5060` (the Request-URI and next hop). */
  readonly registrar: string;
  /** Digest credentials (RFC 7616, MD5 and SHA-256, qop=auth). Never logged. */
  readonly username: string;
  readonly password: string;
  /** The Expires we ask for; the registrar may grant less (or demand more with 423). */
  readonly expiresS: number;
  readonly transport: SipTransport;
  /** User part of our Contact: INVITEs for this binding arrive with it as the Request-URI user. */
  readonly contactUser: string;
  /** RFC 5626 `+sip.instance` (a `urn:uuid:…`), stable across restarts so a registrar replaces, not adds. */
  readonly instanceId: string;
  /** Keep-alive interval while registered (CRLF on TCP, OPTIONS on UDP); 0 disables. */
  readonly keepAliveS?: number;
}

export type RegistrationState = 'registering' | 'registered' | 'failed' | 'unregistered';

export interface RegistrationStatus {
  readonly state: RegistrationState;
  /** When the binding lapses unless refreshed (registered only). */
  readonly expiresAt: Date | undefined;
  /** The last failure, e.g. `403 Forbidden` or `401 Unauthorized after credentials`; cleared on success. */
  readonly lastError: string | undefined;
  /** RFC 5627 public GRUU when the registrar offered one in the 200. */
  readonly gruu: string | undefined;
}

export interface RegistrationEvents {
  /** Every state change (and every successful refresh, with its new `expiresAt`). */
  status: [RegistrationStatus];
  /** A REGISTER was answered 2xx (initial or refresh); `expiresS` as granted. */
  registered: [{ readonly expiresS: number }];
}

export interface Registration extends EventEmitter<RegistrationEvents> {
  readonly binding: RegistrationBinding;
  readonly status: RegistrationStatus;
  /** Stop refreshing and remove the binding (REGISTER with Expires: 0); resolves when answered or given up. */
  unregister(): Promise<void>;
}
