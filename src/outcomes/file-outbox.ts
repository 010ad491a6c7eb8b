import { mkdir, open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { compacted, newestFirst, type Outbox } from './outbox.js';
import type { DeliveryRecord } from './webhook-types.js';

const SUFFIX = '.jsonl';

function isRecord(value: unknown): value is DeliveryRecord {
  const r = value as Partial<DeliveryRecord> | null;
  return (
    r !== null &&
    typeof r === 'object' &&
    typeof r.key === 'string' &&
    typeof r.tenant === 'string' &&
    typeof r.webhook === 'string' &&
    typeof r.body === 'string' &&
    typeof r.status === 'string'
  );
}

/** A file of `kept` lines is rewritten once it has grown to this many (amortised: one rewrite per ≥256 appends). */
function compactionPoint(kept: number): number {
  return 2 * kept + 256;
}

function newLog(): TenantLog {
  return {
    records: new Map(),
    lines: 0,
    compactAt: compactionPoint(0),
    batch: [],
    waiters: [],
    flushing: undefined,
  };
}

interface TenantLog {
  readonly records: Map<string, DeliveryRecord>;
  /** Lines in the file; at `compactAt` the file is rewritten with only what it must keep. */
  lines: number;
  compactAt: number;
  /** Lines waiting for the next write, and who waits for them to be durable (group commit). */
  readonly batch: string[];
  readonly waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
  flushing: Promise<void> | undefined;
}

/**
 * The outbox in the file store: one append-only JSONL file per tenant under `<DATA_DIR>/outbox/` (0600),
 * one line per state change (the last line of a key wins), fsync'd (grouped) before the change is acted on, and
 * rewritten compacted (temp file + rename) once it holds more than twice the lines it needs. A torn last
 * line (a crash mid-append) is skipped on load. One process owns the directory, like the file store.
 */
export class FileOutbox implements Outbox {
  readonly kind = 'file' as const;
  readonly #dir: string;
  readonly #tenants = new Map<string, TenantLog>();
  #loaded: Promise<void> | undefined;

  constructor(dataDir: string) {
    this.#dir = join(dataDir, 'outbox');
  }

  #path(tenant: string): string {
    return join(this.#dir, `${tenant}${SUFFIX}`);
  }

  #load(): Promise<void> {
    this.#loaded ??= (async () => {
      let names: string[] = [];
      try {
        names = await readdir(this.#dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      for (const name of names.filter((n) => n.endsWith(SUFFIX))) {
        const tenant = name.slice(0, -SUFFIX.length);
        const text = await readFile(join(this.#dir, name), 'utf8');
        const log = newLog();
        for (const line of text.split('\n')) {
          if (line === '') continue;
          log.lines++;
          try {
            const parsed = JSON.parse(line) as unknown;
            if (isRecord(parsed)) log.records.set(parsed.key, parsed);
          } catch {
            // A torn line from a crash mid-append: the state before it stands.
          }
        }
        log.compactAt = compactionPoint(log.records.size);
        this.#tenants.set(tenant, log);
      }
    })();
    return this.#loaded;
  }

  #log(tenant: string): TenantLog {
    let log = this.#tenants.get(tenant);
    if (log === undefined) {
      log = newLog();
      this.#tenants.set(tenant, log);
    }
    return log;
  }

  /**
   * Durable once the promise resolves. Appends that arrive while a write is under way go out together in the
   * next one (one fsync for all of them): a burst of events costs a few fsyncs, not one each.
   */
  #append(tenant: string, log: TenantLog, record: DeliveryRecord): Promise<void> {
    log.records.set(record.key, record);
    return new Promise<void>((resolve, reject) => {
      log.batch.push(`${JSON.stringify(record)}\n`);
      log.waiters.push({ resolve, reject });
      log.flushing ??= this.#flush(tenant, log);
    });
  }

  async #flush(tenant: string, log: TenantLog): Promise<void> {
    for (;;) {
      // Checked and cleared in one synchronous step: an append after this starts the next flush itself.
      if (log.batch.length === 0) {
        log.flushing = undefined;
        return;
      }
      const lines = log.batch.splice(0);
      const waiters = log.waiters.splice(0);
      try {
        await mkdir(this.#dir, { recursive: true, mode: 0o700 });
        const fh = await open(this.#path(tenant), 'a', 0o600);
        try {
          await fh.write(lines.join(''));
          await fh.datasync();
        } finally {
          await fh.close();
        }
        log.lines += lines.length;
        if (log.lines >= log.compactAt) await this.#compact(tenant, log);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
  }

  async #compact(tenant: string, log: TenantLog): Promise<void> {
    const snapshot = [...log.records.values()];
    const keep = compacted(snapshot);
    const path = this.#path(tenant);
    const tmp = `${path}.${process.pid}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.write(keep.map((r) => `${JSON.stringify(r)}\n`).join(''));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    // Forget what was compacted away, but only records unchanged since the snapshot: appends made while the
    // file was rewritten are in the map (and in the next batch) and must stay.
    const kept = new Set(keep);
    for (const r of snapshot) if (!kept.has(r) && log.records.get(r.key) === r) log.records.delete(r.key);
    log.lines = keep.length;
    log.compactAt = compactionPoint(keep.length);
  }

  async add(record: DeliveryRecord): Promise<boolean> {
    await this.#load();
    const log = this.#log(record.tenant);
    // Checked and set in one synchronous step (#append sets it at once): no second add slips in between.
    if (log.records.has(record.key)) return false;
    await this.#append(record.tenant, log, record);
    return true;
  }

  async update(record: DeliveryRecord): Promise<void> {
    await this.#load();
    await this.#append(record.tenant, this.#log(record.tenant), record);
  }

  async get(tenant: string, key: string): Promise<DeliveryRecord | undefined> {
    await this.#load();
    return this.#tenants.get(tenant)?.records.get(key);
  }

  claim(): Promise<boolean> {
    return Promise.resolve(true);
  }

  release(): Promise<void> {
    return Promise.resolve();
  }

  async pending(): Promise<DeliveryRecord[]> {
    await this.#load();
    const out: DeliveryRecord[] = [];
    for (const log of this.#tenants.values())
      for (const r of log.records.values()) if (r.status === 'pending') out.push(r);
    return out;
  }

  async recent(tenant: string, webhook: string, limit: number): Promise<DeliveryRecord[]> {
    await this.#load();
    const records = [...(this.#tenants.get(tenant)?.records.values() ?? [])].filter(
      (r) => r.webhook === webhook,
    );
    return records.sort(newestFirst).slice(0, limit);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#tenants.values()].map((l) => l.flushing ?? Promise.resolve()));
  }
}
