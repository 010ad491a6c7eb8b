/**
 * CALL_HISTORY_RETENTION_DAYS is enforced by the server itself: records older than the retention that are on
 * disk when it starts are pruned at once (and then hourly), newer ones stay readable over HTTP.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileCallHistory } from '../../src/outcomes/history-file.js';
import { eventually } from '../support/eventually.js';
import { fakeCallRecord } from '../support/fake-cdrs.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DAY_MS = 86_400_000;

describe('call history retention at server start', () => {
  let srv: TestServer | undefined;
  let dataDir: string | undefined;
  afterAll(async () => {
    await srv?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it('prunes what is older than CALL_HISTORY_RETENTION_DAYS', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sb-retention-'));
    const before = new FileCallHistory(dataDir);
    await before.put(fakeCallRecord('ancient', 'acme', Date.now() - 10 * DAY_MS));
    await before.put(fakeCallRecord('fresh', 'acme', Date.now() - 2 * DAY_MS));
    await before.close();
    expect(await readdir(join(dataDir, 'calls', 'acme'))).toHaveLength(2);

    srv = await startTestServer({ dataDir, env: { CALL_HISTORY_RETENTION_DAYS: '7' } });
    const s = srv;
    await eventually(async () => {
      expect((await s.api('GET', '/v1/calls/ancient')).status).toBe(404);
    });
    expect((await s.api('GET', '/v1/calls/fresh')).json).toMatchObject({ id: 'fresh', state: 'ended' });
    expect(await readdir(join(dataDir, 'calls', 'acme'))).toHaveLength(1);
    const page = await s.api('GET', '/v1/calls?state=ended');
    expect(page.json.calls.map((c: { id: string }) => c.id)).toEqual(['fresh']);
  });
});
