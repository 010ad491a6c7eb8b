/**
 * What the HTTP API needs from the rest of the system, as narrow interfaces; main.ts passes the real
 * registry and call manager, tests pass fakes or the real thing.
 */

import type { ProviderInfo } from '../agent/registry.js';
import type { AmdSettings } from '../routing/dialplan.js';

export type { CredentialField, ProviderInfo } from '../agent/registry.js';

export interface ProviderCatalog {
  providers(): ProviderInfo[];
  /** Returns the parsed credential; throws a SwitchboardError naming the field when invalid or unknown. */
  validateCredential(slug: string, raw: unknown): Record<string, unknown>;
}

/** `state` of a call whose owner instance died (several instances behind Redis): listed, not controllable. */
export const CALL_STATE_LOST = 'lost';

export interface CallSummary {
  readonly id: string;
  readonly tenant: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  readonly startedAt: string;
  readonly codec: string;
  readonly provider: string;
  readonly state: string;
  /** The instance that owns the call (several instances behind Redis). */
  readonly instance?: string;
  /** RTCP figures so far (GET /v1/calls/:id answered by the owning instance, RTCP on). */
  readonly quality?: CallQuality;
}

/** A call's media quality from RTCP (RFC 3550 reports, E-model estimate); see README "RTCP and call quality". */
export interface CallQuality {
  readonly jitterMs: number;
  /** Loss of what we receive, and of what we send as the peer reports it (absent before its first report). */
  readonly lossFraction: number;
  readonly remoteLossFraction?: number;
  readonly rttMs?: number;
  readonly rFactor: number;
  readonly mos: number;
  readonly reportsSent: number;
  readonly reportsReceived: number;
}

export interface DialRequest {
  readonly tenant: string;
  readonly to: string;
  readonly from?: string | undefined;
  readonly agent?: Readonly<Record<string, string | undefined>> | undefined;
  /** The first turn: the greeting waits for the callee's words or `greet_after_ms` of silence. */
  readonly outbound?: { readonly greet_after_ms: number } | undefined;
  /** Answering-machine detection for this call (issue 18); the dialplan's `outbound.amd` otherwise. */
  readonly amd?: AmdSettings | undefined;
  /** Set by the HTTP layer for the admin token only: full SIP URIs allowed, `outbound.allow` not applied. */
  readonly trusted?: boolean | undefined;
}

export interface CallControl {
  list(): Promise<CallSummary[]>;
  get(id: string): Promise<CallSummary | undefined>;
  /** False when no such call. */
  hangup(id: string): Promise<boolean>;
  transfer(
    id: string,
    destination: string,
  ): Promise<{ readonly ok: boolean; readonly status?: number; readonly message: string }>;
  /** Resolves with the call id once answered; rejects with SipError(status) when the call fails. */
  dial(request: DialRequest): Promise<{ readonly id: string }>;
}
