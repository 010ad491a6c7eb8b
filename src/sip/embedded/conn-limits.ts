/**
 * Limits that keep the SIP-over-TCP front door open for everyone (issue 11): a per-source connection cap
 * below a global cap (one address cannot fill the process), a header-read deadline (a message must complete
 * within a few seconds of its first byte, so a peer dripping one byte every 2 s is closed), and an idle timeout
 * for connections that carry no dialog. RFC 3261 §18.3 leaves connection management to the implementation;
 * RFC 5923 §11 and RFC 5626 §5.4 warn that a server must bound what unauthenticated peers can hold open.
 *
 * Pure bookkeeping, no sockets and no timers, so the policy is tested without either.
 */

export interface TcpLimits {
  /** Inbound connections one source address may hold (default 32). */
  readonly maxPerSource: number;
  /** Inbound connections in total (default 2048); always above `maxPerSource`. */
  readonly maxConnections: number;
  /** A message must be complete this long after its first byte arrived (default 5 s). */
  readonly headerTimeoutMs: number;
  /** A connection without a dialog is closed after this long without a complete message either way. */
  readonly idleMs: number;
}

export const DEFAULT_TCP_LIMITS: TcpLimits = Object.freeze({
  maxPerSource: 32,
  maxConnections: 2048,
  headerTimeoutMs: 5_000,
  idleMs: 60_000,
});

export type ConnectionRefusal = 'per-source' | 'global';

/** What the reaper looks at for one connection. */
export interface ConnectionClock {
  /** When the first byte of the message being read arrived; undefined between messages. */
  readonly partialSinceMs: number | undefined;
  /** The last complete message received or sent on this connection. */
  readonly lastMessageMs: number;
}

export type ReapReason = 'header-timeout' | 'idle';

/** Counts inbound connections per source address and decides whether one more may be accepted. */
export class ConnectionLimiter {
  private readonly perSource = new Map<string, number>();
  private total = 0;

  constructor(readonly limits: TcpLimits) {}

  get connections(): number {
    return this.total;
  }

  /** Count this connection in, or say why it must be refused (nothing is counted then). */
  admit(address: string): ConnectionRefusal | undefined {
    const held = this.perSource.get(address) ?? 0;
    if (held >= this.limits.maxPerSource) return 'per-source';
    if (this.total >= this.limits.maxConnections) return 'global';
    this.perSource.set(address, held + 1);
    this.total++;
    return undefined;
  }

  release(address: string): void {
    const held = this.perSource.get(address);
    if (held === undefined) return;
    if (held <= 1) this.perSource.delete(address);
    else this.perSource.set(address, held - 1);
    this.total--;
  }

  /** Why a connection should be closed now, if it should. A connection carrying a dialog is never idle. */
  reapReason(conn: ConnectionClock, nowMs: number, carriesDialog: boolean): ReapReason | undefined {
    if (conn.partialSinceMs !== undefined && nowMs - conn.partialSinceMs > this.limits.headerTimeoutMs)
      return 'header-timeout';
    if (!carriesDialog && nowMs - conn.lastMessageMs > this.limits.idleMs) return 'idle';
    return undefined;
  }

  /** How often to look: often enough that a deadline is overrun by at most a quarter of itself. */
  sweepIntervalMs(): number {
    return Math.max(50, Math.min(this.limits.headerTimeoutMs, this.limits.idleMs) / 4);
  }
}

/** Fill unset fields from the defaults and keep the global cap above the per-source one. */
export function resolveTcpLimits(partial: Partial<TcpLimits> = {}): TcpLimits {
  const merged: { -readonly [K in keyof TcpLimits]: number } = { ...DEFAULT_TCP_LIMITS };
  for (const [key, value] of Object.entries(partial) as [keyof TcpLimits, number | undefined][]) {
    if (value !== undefined) merged[key] = value;
  }
  return Object.freeze({ ...merged, maxConnections: Math.max(merged.maxConnections, merged.maxPerSource) });
}
