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

interface TenantLog {
  readonly records: Map<string, DeliveryRecord>;
  /** Lines in the file; at `compactAt` the file is rewritten with only what it must keep. */
  lines: number;
  compactAt: number;
  queue: Promise<unknown>;
}

/**
 * The outbox in the file store: one append-only JSONL file per tenant under `<DATA_DIR>/outbox/` (0600),
 * one line per state change (the last line of a key wins), fsync'd before the change is acted on, and
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
        const log: TenantLog = { records: new Map(), lines: 0, compactAt: 0, queue: Promise.resolve() };
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
      log = { records: new Map(), lines: 0, compactAt: compactionPoint(0), queue: Promise.resolve() };
      this.#tenants.set(tenant, log);
    }
    return log;
  }

  /** Serialise writes per tenant: appends and the compaction that replaces the file. */
  #exclusive<T>(log: TenantLog, fn: () => Promise<T>): Promise<T> {
    const run = log.queue.then(fn, fn);
    log.queue = run.catch(() => undefined);
    return run;
  }

  async #append(tenant: string, log: TenantLog, record: DeliveryRecord): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const fh = await open(this.#path(tenant), 'a', 0o600);
    try {
      await fh.write(`${JSON.stringify(record)}\n`);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    log.records.set(record.key, record);
    log.lines++;
    if (log.lines >= log.compactAt) await this.#compact(tenant, log);
  }

  async #compact(tenant: string, log: TenantLog): Promise<void> {
    const keep = compacted(log.records.values());
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
    log.records.clear();
    for (const r of keep) log.records.set(r.key, r);
    log.lines = keep.length;
    log.compactAt = compactionPoint(keep.length);
  }

  async add(record: DeliveryRecord): Promise<boolean> {
    await this.#load();
    const log = this.#log(record.tenant);
    return this.#exclusive(log, async () => {
      if (log.records.has(record.key)) return false;
      await this.#append(record.tenant, log, record);
      return true;
    });
  }

  async update(record: DeliveryRecord): Promise<void> {
    await this.#load();
    const log = this.#log(record.tenant);
    await this.#exclusive(log, () => this.#append(record.tenant, log, record));
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
    await Promise.all([...this.#tenants.values()].map((l) => l.queue));
  }
}
