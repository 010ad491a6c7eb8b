/**
 * The file store's call history: one JSON line per call in `<DATA_DIR>/calls/<tenant>/<YYYY-MM-DD>.jsonl`
 * (the UTC day the call ended). An index of every record (id, tenant, end time, file) is read from disk once
 * and kept in memory, newest first; a record itself is read from its day file when asked for. Retention
 * deletes whole day files and rewrites the one day file the cut falls into. One process owns the directory
 * (the file store is the single-instance layout; several instances use Redis).
 */
import { appendFile, mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CallRecord } from './cdr.js';
import {
  DAY_MS,
  endedMsOf,
  newestFirst,
  pageOf,
  type CallHistory,
  type HistoryPage,
  type HistoryQuery,
} from './call-history.js';

interface IndexEntry {
  readonly id: string;
  readonly tenant: string;
  readonly endedMs: number;
  readonly file: string;
}

const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.jsonl$/;
/** Tenant names are dialplan-validated; a folder name is checked again before it becomes a path. */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export class FileCallHistory implements CallHistory {
  readonly kind = 'file' as const;
  readonly #dir: string;
  /** Newest first. */
  #index: IndexEntry[] | undefined;
  #loading: Promise<IndexEntry[]> | undefined;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    this.#dir = join(dataDir, 'calls');
  }

  put(record: CallRecord): Promise<void> {
    return this.#serial(async () => {
      const index = await this.#load();
      const { cdr } = record;
      if (!SAFE_NAME.test(cdr.tenant)) throw new Error(`unsafe tenant name for a path: ${cdr.tenant}`);
      const endedMs = endedMsOf(cdr);
      const folder = join(this.#dir, cdr.tenant);
      await mkdir(folder, { recursive: true, mode: 0o750 });
      const file = join(folder, `${new Date(endedMs).toISOString().slice(0, 10)}.jsonl`);
      await appendFile(file, `${JSON.stringify(record)}\n`, { mode: 0o640 });
      const existing = index.findIndex((e) => e.id === cdr.id);
      if (existing >= 0) index.splice(existing, 1);
      insertOrdered(index, { id: cdr.id, tenant: cdr.tenant, endedMs, file });
    });
  }

  async get(id: string): Promise<CallRecord | undefined> {
    const entry = (await this.#load()).find((e) => e.id === id);
    if (entry === undefined) return undefined;
    const lines = await readLines(entry.file);
    // The last line for an id wins (a re-put appends).
    for (let i = lines.length - 1; i >= 0; i--) {
      const r = parseRecord(lines[i]);
      if (r?.cdr.id === id) return r;
    }
    return undefined;
  }

  async list(query: HistoryQuery): Promise<HistoryPage> {
    const index = await this.#load();
    const window = index.filter(
      (e) =>
        (query.tenant === undefined || e.tenant === query.tenant) &&
        (query.sinceMs === undefined || e.endedMs >= query.sinceMs) &&
        (query.untilMs === undefined || e.endedMs < query.untilMs),
    );
    const { entries, next } = pageOf(window, query);
    const calls = [];
    for (const e of entries) {
      const r = await this.get(e.id);
      if (r !== undefined) calls.push(r.cdr);
    }
    return next === undefined ? { calls } : { calls, nextCursor: next };
  }

  prune(beforeMs: number): Promise<number> {
    return this.#serial(async () => {
      const index = await this.#load();
      const old = index.filter((e) => e.endedMs < beforeMs);
      if (old.length === 0) return 0;
      const files = new Set(old.map((e) => e.file));
      for (const file of files) {
        const day = Date.parse(
          `${DAY_FILE.exec(file.slice(file.lastIndexOf('/') + 1))?.[1] ?? ''}T00:00:00Z`,
        );
        if (Number.isFinite(day) && day + DAY_MS <= beforeMs) {
          await unlink(file).catch(() => undefined);
          continue;
        }
        const kept = (await readLines(file)).filter((line) => {
          const r = parseRecord(line);
          return r !== undefined && endedMsOf(r.cdr) >= beforeMs;
        });
        const tmp = `${file}.tmp`;
        await writeFile(tmp, kept.map((l) => `${l}\n`).join(''), { mode: 0o640 });
        await rename(tmp, file);
      }
      this.#index = index.filter((e) => e.endedMs >= beforeMs);
      return old.length;
    });
  }

  async close(): Promise<void> {
    await this.#chain.catch(() => undefined);
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(work, work);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  #load(): Promise<IndexEntry[]> {
    if (this.#index !== undefined) return Promise.resolve(this.#index);
    this.#loading ??= this.#scan().then((index) => (this.#index = index));
    return this.#loading;
  }

  async #scan(): Promise<IndexEntry[]> {
    const index: IndexEntry[] = [];
    for (const tenant of await listDir(this.#dir)) {
      if (!SAFE_NAME.test(tenant)) continue;
      for (const name of await listDir(join(this.#dir, tenant))) {
        if (!DAY_FILE.test(name)) continue;
        const file = join(this.#dir, tenant, name);
        const seen = new Set<string>();
        const lines = await readLines(file);
        for (let i = lines.length - 1; i >= 0; i--) {
          const r = parseRecord(lines[i]);
          if (r === undefined || seen.has(r.cdr.id)) continue;
          seen.add(r.cdr.id);
          index.push({ id: r.cdr.id, tenant: r.cdr.tenant, endedMs: endedMsOf(r.cdr), file });
        }
      }
    }
    return index.sort(newestFirst);
  }
}

function insertOrdered(index: IndexEntry[], entry: IndexEntry): void {
  // Calls mostly end in time order: search from the newest end.
  let i = 0;
  while (i < index.length && newestFirst(index[i] as IndexEntry, entry) < 0) i++;
  index.splice(i, 0, entry);
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

async function readLines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  } catch {
    return [];
  }
}

/** A line that does not parse (a torn write after a crash) is skipped, not fatal. */
function parseRecord(line: string | undefined): CallRecord | undefined {
  if (line === undefined) return undefined;
  try {
    const r = JSON.parse(line) as CallRecord;
    return typeof r?.cdr?.id === 'string' && typeof r.cdr.endedAt === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}
