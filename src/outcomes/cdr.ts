/**
 * The call detail record (issue 16): what one call leaves behind in the tenant's call history, whether it
 * was recorded or not. Times are ISO strings; offsets (`atMs`) are ms on the call's clock (answer = 0).
 * Built by CallOutcome (call-outcome.ts) from the session's events; stored by a CallHistory.
 */
import type { TranscriptTurn } from './transcript.js';
import type { CostEstimate, UsageTotals } from './prices.js';

export const CDR_VERSION = 1;

export interface CdrAgent {
  readonly provider: string;
  readonly model: string | null;
  /** When this agent took the call (a replacement after a provider failure starts later). */
  readonly fromMs: number;
}

export interface CdrToolCall {
  readonly name: string;
  readonly ok: boolean;
  readonly args: Readonly<Record<string, unknown>>;
  readonly result: unknown;
  readonly atMs: number;
}

export interface CdrTransfer {
  readonly target: string;
  readonly method: string;
  readonly ok: boolean;
  readonly via?: string;
  readonly status?: number;
  readonly message?: string;
  readonly atMs: number;
}

export interface CdrBargeIn {
  readonly atMs: number;
  /** ms of the interrupted reply the caller heard (RTP frames sent). */
  readonly heardMs?: number;
  /** ms of queued reply audio thrown away. */
  readonly flushedMs?: number;
}

/** The leg's RTP figures as logged in 'call ended', plus the RTCP quality when RTCP was on. */
export interface CdrRtp {
  readonly packetsReceived: number;
  readonly packetsSent: number;
  readonly lost: number;
  readonly late: number;
  readonly jitterMs?: number;
  readonly lossFraction?: number;
  readonly rttMs?: number;
  readonly mos?: number;
}

export interface CallDetailRecord {
  readonly version: typeof CDR_VERSION;
  readonly id: string;
  readonly tenant: string;
  /** The dialplan file that routed the call (null when unknown). */
  readonly route: string | null;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  readonly codec: string;
  /** INVITE received (inbound) or sent (outbound). */
  readonly startedAt: string;
  readonly answeredAt: string;
  readonly endedAt: string;
  /** Answer to end. */
  readonly durationMs: number;
  readonly endReason: string;
  /** The first agent's provider and model; `agents` lists every one if the provider was replaced. */
  readonly provider: string;
  readonly model: string | null;
  readonly agents: readonly CdrAgent[];
  readonly tools: readonly CdrToolCall[];
  readonly transfers: readonly CdrTransfer[];
  readonly bargeIns: number;
  readonly bargeInEvents: readonly CdrBargeIn[];
  /** Caller stopped speaking → first reply audio, per turn (the session's responseLatency). */
  readonly turnLatenciesMs: readonly number[];
  readonly rtp: CdrRtp;
  /** Token usage as the providers reported it, per provider and model. */
  readonly usage: readonly UsageTotals[];
  /** From the price table (PRICES_FILE); absent without one. */
  readonly cost?: CostEstimate;
  readonly recorded: boolean;
}

/** What the history stores per call: the CDR and the transcript. */
export interface CallRecord {
  readonly cdr: CallDetailRecord;
  readonly transcript: readonly TranscriptTurn[];
}
