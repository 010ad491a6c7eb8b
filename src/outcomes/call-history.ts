/**
 * The call history (issue 16): every ended call's record (CDR + transcript) in the tenant store's backend,
 * Redis or the file store, kept for CALL_HISTORY_RETENTION_DAYS. Owned here, beside its two
 * implementations (history-redis.ts, history-file.ts); the HTTP API reads it, CallOutcome writes it.
 *
 * Paging is newest first by end time, through an opaque cursor naming the last record returned (end time and
 * id), so records that share an end time are neither repeated nor skipped.
 */
import type { CallDetailRecord, CallRecord } from './cdr.js';

export interface HistoryQuery {
  /** Only this tenant's calls; absent: every tenant (admin). */
  readonly tenant?: string;
  /** Calls that ended at or after this instant (ms since the epoch). */
  readonly sinceMs?: number;
  /** Calls that ended before this instant. */
  readonly untilMs?: number;
  /** From `nextCursor` of the previous page. */
  readonly cursor?: string;
  readonly limit: number;
}

export interface HistoryPage {
  readonly calls: readonly CallDetailRecord[];
  /** Absent on the last page. */
  readonly nextCursor?: string;
}

export interface CallHistory {
  readonly kind: 'redis' | 'file';
  put(record: CallRecord): Promise<void>;
  get(id: string): Promise<CallRecord | undefined>;
  list(query: HistoryQuery): Promise<HistoryPage>;
  /** Removes records that ended before `beforeMs`; returns how many. */
  prune(beforeMs: number): Promise<number>;
  close(): Promise<void>;
}

export const MAX_PAGE = 100;
export const DAY_MS = 86_400_000;

/** Where a page resumes: after the record that ended at `endedMs` with id `id` (newest-first order). */
export interface CursorPosition {
  readonly endedMs: number;
  readonly id: string;
}

export function encodeCursor(p: CursorPosition): string {
  return Buffer.from(JSON.stringify([p.endedMs, p.id])).toString('base64url');
}

/** Undefined for a cursor that was not made by encodeCursor (the API answers 400). */
export function decodeCursor(cursor: string): CursorPosition | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(v) || v.length !== 2) return undefined;
    const [endedMs, id] = v as unknown[];
    if (typeof endedMs !== 'number' || !Number.isFinite(endedMs) || typeof id !== 'string') return undefined;
    return { endedMs, id };
  } catch {
    return undefined;
  }
}

/** Newest first; equal end times by id, descending (the order Redis ZREVRANGEBYSCORE gives). */
export function newestFirst(a: CursorPosition, b: CursorPosition): number {
  if (a.endedMs !== b.endedMs) return b.endedMs - a.endedMs;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** True when `p` comes after the cursor position in newest-first order. */
export function afterCursor(p: CursorPosition, cursor: CursorPosition | undefined): boolean {
  return cursor === undefined || newestFirst(cursor, p) < 0;
}

export function endedMsOf(cdr: CallDetailRecord): number {
  return Date.parse(cdr.endedAt);
}

/** One page from entries already in newest-first order and filtered by the query's window. */
export function pageOf<T extends CursorPosition>(
  ordered: Iterable<T>,
  query: HistoryQuery,
): { entries: T[]; next?: string } {
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const entries: T[] = [];
  for (const e of ordered) {
    if (!afterCursor(e, cursor)) continue;
    if (entries.length === query.limit) {
      const last = entries[entries.length - 1];
      return last === undefined ? { entries } : { entries, next: encodeCursor(last) };
    }
    entries.push(e);
  }
  return { entries };
}

/** A periodic prune (hourly) plus one at start, with the retention in days. */
export function startRetention(
  history: CallHistory,
  retentionDays: number,
  onError: (err: unknown) => void,
  now: () => number = Date.now,
): () => void {
  const run = (): void => {
    history.prune(now() - retentionDays * DAY_MS).catch(onError);
  };
  run();
  const timer = setInterval(run, 3_600_000);
  timer.unref();
  return () => clearInterval(timer);
}
