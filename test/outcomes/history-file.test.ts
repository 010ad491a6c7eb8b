/**
 * The file store's call history on disk: it survives a restart (the index is rebuilt from the day files),
 * a torn last line (a crash mid-write) costs only that line, a record put twice is listed once, and
 * retention deletes whole old day files and rewrites the day the cut falls into.
 */
import { appendFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/outcomes/index.js';
import { fakeCallRecord } from '../support/fake-cdrs.js';
import { FileCallHistory } from '../../src/outcomes/history-file.js';

const DAY_MS = 86_400_000;

describe('FileCallHistory', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-history-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is read back after a restart, in newest-first order, without a torn line or a duplicate', async () => {
    const day = Date.UTC(2026, 0, 10, 12);
    const a = new FileCallHistory(dir);
    await a.put(fakeCallRecord('c1', 'acme', day));
    await a.put(fakeCallRecord('c2', 'acme', day + 1000));
    await a.put(fakeCallRecord('c3', 'globex', day + DAY_MS));
    await a.put(fakeCallRecord('c2', 'acme', day + 1000, 'end_call'));
    await a.close();
    // A crash in the middle of a line.
    await appendFile(join(dir, 'calls', 'acme', '2026-01-10.jsonl'), '{"cdr":{"id":"c4","tena');

    const b = new FileCallHistory(dir);
    const page = await b.list({ limit: 10 });
    expect(page.calls.map((c) => c.id)).toEqual(['c3', 'c2', 'c1']);
    expect((await b.get('c2'))?.cdr.endReason).toBe('end_call');
    expect((await b.get('c1'))?.transcript[0]?.text).toBe('hello c1');
    expect(await b.get('c4')).toBeUndefined();
    expect((await b.list({ limit: 10, tenant: 'globex' })).calls.map((c) => c.id)).toEqual(['c3']);
    await b.close();
  });

  it('prunes whole old days and rewrites the day the cut falls into', async () => {
    const h = new FileCallHistory(dir);
    const d1 = Date.UTC(2026, 0, 1, 10);
    const d2 = Date.UTC(2026, 0, 2, 10);
    await h.put(fakeCallRecord('old', 'acme', d1));
    await h.put(fakeCallRecord('morning', 'acme', d2));
    await h.put(fakeCallRecord('evening', 'acme', d2 + 8 * 3_600_000));
    expect(await h.prune(d2 + 3_600_000)).toBe(2);
    expect(await readdir(join(dir, 'calls', 'acme'))).toEqual(['2026-01-02.jsonl']);
    const kept = (await readFile(join(dir, 'calls', 'acme', '2026-01-02.jsonl'), 'utf8')).trim().split('\n');
    expect(kept.map((l) => (JSON.parse(l) as CallRecord).cdr.id)).toEqual(['evening']);
    expect((await h.list({ limit: 10 })).calls.map((c) => c.id)).toEqual(['evening']);
    // And after a restart too.
    const again = new FileCallHistory(dir);
    expect((await again.list({ limit: 10 })).calls.map((c) => c.id)).toEqual(['evening']);
  });

  it('refuses a tenant name that is not a plain folder name', async () => {
    const h = new FileCallHistory(dir);
    await expect(h.put(fakeCallRecord('x', '../escape', Date.now()))).rejects.toThrow(/unsafe tenant/);
    expect(await readdir(join(dir))).toEqual([]);
  });
});
