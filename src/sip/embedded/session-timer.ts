/**
 * RFC 4028 session timers: header grammar, the UAS negotiation of §9 (including 422 below our minimum), and
 * the per-dialog timer of §10 — the refresher refreshes at half the interval, the other side sends BYE when
 * no refresh came by `interval - min(32 s, interval / 3)`. Side effects (refresh, BYE) are injected.
 */
import type { SipRequest, SipResponse } from './message.js';
import type { Scheduler, TimerHandle } from './transaction.js';

export interface SessionTimerConfig {
  /** Our Min-SE: a smaller Session-Expires gets 422 (RFC 4028 §8.1). RFC 4028 says ≥ 90 s; tests use less. */
  readonly minSeconds: number;
  /** The interval we ask for (UAC) or pick when the peer supports timers but named none (UAS). */
  readonly defaultSeconds: number;
}

export const DEFAULT_SESSION_TIMER: SessionTimerConfig = { minSeconds: 90, defaultSeconds: 1800 };

/** `refresher` is relative to the transaction that carries the header: uac = the requester. */
export type Refresher = 'uac' | 'uas';

export interface SessionExpires {
  readonly seconds: number;
  readonly refresher: Refresher | undefined;
}

/** §4: `Session-Expires = delta-seconds *(SEMI se-params)`, se-params include `refresher=uac|uas`. */
export function parseSessionExpires(value: string | undefined): SessionExpires | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d{1,10})\s*((?:;.*)?)$/.exec(value);
  if (m === null) return undefined;
  const seconds = Number(m[1]);
  if (!Number.isSafeInteger(seconds) || seconds <= 0) return undefined;
  const refresher = /;\s*refresher\s*=\s*(uac|uas)\b/i.exec(m[2] ?? '')?.[1]?.toLowerCase();
  return { seconds, refresher: refresher as Refresher | undefined };
}

/** §5: `Min-SE = delta-seconds *(SEMI generic-param)`. */
export function parseMinSe(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^\s*(\d{1,10})\b/.exec(value);
  return m === null ? undefined : Number(m[1]);
}

export function supportsTimer(message: SipRequest | SipResponse): boolean {
  return [...message.headers.getAll('Supported'), ...message.headers.getAll('Require')].some(
    (tag) => tag.trim().toLowerCase() === 'timer',
  );
}

export type UasNegotiation =
  | { readonly kind: 'none' }
  /** 422 Session Interval Too Small, with our Min-SE. */
  | { readonly kind: 'too-small'; readonly minSeconds: number }
  | {
      readonly kind: 'run';
      readonly seconds: number;
      readonly refresher: Refresher;
      /** Headers for our 2xx (§9). */
      readonly headers: Readonly<Record<string, string>>;
    };

/**
 * §9: what a UAS does with an INVITE/UPDATE. A Session-Expires below our minimum is refused (422); otherwise
 * the interval is honoured, and the refresher is the one the request named, else the UAC when it supports
 * timers, else us. Without Session-Expires and without `Supported: timer` no session timer runs.
 */
export function negotiateUas(request: SipRequest, config: SessionTimerConfig): UasNegotiation {
  const requested = parseSessionExpires(request.headers.get('Session-Expires'));
  const peerSupports = supportsTimer(request);
  if (requested === undefined && !peerSupports) return { kind: 'none' };
  if (requested !== undefined && requested.seconds < config.minSeconds) {
    return { kind: 'too-small', minSeconds: config.minSeconds };
  }
  const floor = Math.max(config.minSeconds, parseMinSe(request.headers.get('Min-SE')) ?? 0);
  const seconds = requested?.seconds ?? Math.max(config.defaultSeconds, floor);
  // §9: refresher=uac is only possible when the UAC supports timers.
  const refresher: Refresher = peerSupports ? (requested?.refresher ?? 'uac') : 'uas';
  return {
    kind: 'run',
    seconds,
    refresher,
    headers: {
      'Session-Expires': `${seconds};refresher=${refresher}`,
      ...(peerSupports ? { Require: 'timer' } : {}),
    },
  };
}

/** RFC 4028 §9 for a refresh the peer sent: 422, or the headers of our 2xx and the re-arming of our timer. */
export interface SessionAnswer {
  readonly tooSmall?: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly commit: () => void;
}

export interface SessionTimerDeps {
  readonly scheduler: Scheduler;
  /** Send a refresh (UPDATE or re-INVITE); resolves with the interval the answer set, or undefined on failure. */
  readonly refresh: (seconds: number) => Promise<{ seconds: number; weRefresh: boolean } | undefined>;
  /** The session is over: no refresh came (or ours failed); send BYE. */
  readonly expire: () => void;
}

/** One dialog's session timer (§10). `arm` is called after every successful (re)negotiation. */
export class SessionTimer {
  private handle: TimerHandle | undefined;
  private stopped = false;
  /** The interval and role in force (for the headers of a refresh we send or answer). */
  seconds = 0;
  weRefresh = false;

  constructor(private readonly deps: SessionTimerDeps) {}

  get running(): boolean {
    return this.handle !== undefined;
  }

  arm(seconds: number, weRefresh: boolean): void {
    if (this.stopped) return;
    this.deps.scheduler.clear(this.handle);
    this.seconds = seconds;
    this.weRefresh = weRefresh;
    const ms = weRefresh
      ? (seconds * 1000) / 2
      : // §10: the non-refresher sends BYE at expiry minus min(32 s, one third of the interval).
        seconds * 1000 - Math.min(32_000, (seconds * 1000) / 3);
    this.handle = this.deps.scheduler.set(() => {
      this.handle = undefined;
      if (weRefresh) void this.refreshNow(seconds);
      else this.deps.expire();
    }, ms);
  }

  private async refreshNow(seconds: number): Promise<void> {
    const result = await this.deps.refresh(seconds).catch(() => undefined);
    if (this.stopped) return;
    if (result === undefined) this.deps.expire();
    else this.arm(result.seconds, result.weRefresh);
  }

  stop(): void {
    this.stopped = true;
    this.deps.scheduler.clear(this.handle);
    this.handle = undefined;
  }
}
