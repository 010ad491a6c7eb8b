/**
 * The deliverer and the file outbox without a call: retry schedule, the 24 h cut-off (injected clock), a
 * deleted webhook, deduplication, a torn last line after a crash, and compaction. A real node:http receiver.
 */
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileOutbox } from '../../src/outcomes/file-outbox.js';
import { KEEP_FINISHED_PER_WEBHOOK } from '../../src/outcomes/outbox.js';
import {
  MAX_DELIVERY_AGE_MS,
  MAX_RETRY_DELAY_MS,
  retryDelayMs,
  WebhookDeliverer,
} from '../../src/outcomes/webhook-deliverer.js';
import type { DeliveryRecord, WebhookSubscription } from '../../src/outcomes/webhook-types.js';
import { eventually } from '../support/eventually.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const logger = pino({ level: 'silent' });

function record(n: number, createdAtMs: number, over: Partial<DeliveryRecord> = {}): DeliveryRecord {
  const createdAt = new Date(createdAtMs).toISOString();
  return {
    key: `evt_${n}:main`,
    id: `evt_${n}`,
    tenant: 'acme',
    webhook: 'main',
    type: 'call.ended',
    body: JSON.stringify({
      id: `evt_${n}`,
      type: 'call.ended',
      created_at: createdAt,
      tenant: 'acme',
      data: {},
    }),
    createdAt,
    status: 'pending',
    attempts: 0,
    nextAttemptAt: createdAt,
    ...over,
  };
}

describe('FileOutbox under concurrent appends', () => {
  it('loses no pending delivery when appends arrive while it compacts (group commit)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-outbox-'));
    try {
      const outbox = new FileOutbox(dir);
      const t0 = Date.parse('2026-01-01T00:00:00Z');
      // 450 state changes arriving while earlier ones are being written: compactions run meanwhile.
      const writes: Array<Promise<unknown>> = [];
      for (let i = 0; i < 300; i++) {
        const r = record(i, t0 + i);
        writes.push(
          outbox
            .add(r)
            .then(() =>
              i % 2 === 0 ? outbox.update({ ...r, status: 'delivered', attempts: 1 }) : undefined,
            ),
        );
        if (i % 5 === 0) await new Promise((res) => setTimeout(res, 1));
      }
      await Promise.all(writes);
      expect((await outbox.pending()).length).toBe(150);
      await outbox.close();
      const reopened = new FileOutbox(dir);
      expect((await reopened.pending()).length).toBe(150);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('retry schedule', () => {
  it('doubles from the base and caps at 10 minutes', () => {
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(a, 1000))).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(retryDelayMs(30, 1000)).toBe(MAX_RETRY_DELAY_MS);
    expect(MAX_DELIVERY_AGE_MS).toBe(24 * 3600 * 1000);
  });
});

describe('WebhookDeliverer with the file outbox', () => {
  let dir: string;
  let outbox: FileOutbox;
  let receiver: WebhookReceiver;
  let deliverer: WebhookDeliverer | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-outbox-'));
    outbox = new FileOutbox(dir);
    receiver = await WebhookReceiver.start({ host: '127.0.1.49', answer: () => 500 });
  });
  afterEach(async () => {
    deliverer?.close();
    await receiver.close();
    await outbox.close();
    await rm(dir, { recursive: true, force: true });
  });

  const make = (
    now: () => number,
    subscription: (t: string, n: string) => Promise<WebhookSubscription | undefined>,
  ): WebhookDeliverer =>
    new WebhookDeliverer({
      outbox,
      subscription,
      allowPrivate: true,
      timeoutMs: 2000,
      retryBaseMs: 1000,
      logger,
      now,
    });
  const sub = (): Promise<WebhookSubscription> =>
    Promise.resolve({
      tenant: 'acme',
      name: 'main',
      url: receiver.url,
      secret: 'whsec-outbox-unit-0123456789',
      events: ['call.ended'],
      updatedAt: '',
    });

  it('drops a delivery (failed) once the next retry would be more than 24 h after the event', async () => {
    const created = Date.parse('2026-01-01T00:00:00Z');
    const now = created + MAX_DELIVERY_AGE_MS - 500;
    deliverer = make(() => now, sub);
    const r = record(1, created, { nextAttemptAt: new Date(now).toISOString() });
    await outbox.add(r);
    deliverer.schedule(r);
    await eventually(async () => expect((await outbox.get('acme', r.key))?.status).toBe('failed'), 5000);
    expect(await outbox.get('acme', r.key)).toMatchObject({
      attempts: 1,
      lastStatusCode: 500,
      lastError: 'HTTP 500',
    });
    await new Promise((res) => setTimeout(res, 1500));
    expect(receiver.received).toHaveLength(1);
  });

  it('retries inside the 24 h with the backoff, and fails a delivery whose webhook was deleted', async () => {
    deliverer = make(Date.now, sub);
    const r = record(2, Date.now());
    await outbox.add(r);
    deliverer.schedule(r);
    await receiver.until((x) => x.length === 2, 5000);
    const stored = await outbox.get('acme', r.key);
    expect(stored).toMatchObject({ status: 'pending', lastStatusCode: 500 });
    expect(stored?.attempts).toBeGreaterThanOrEqual(1);
    deliverer.close();

    deliverer = make(Date.now, () => Promise.resolve(undefined));
    const gone = record(3, Date.now());
    await outbox.add(gone);
    deliverer.schedule(gone);
    await eventually(async () =>
      expect(await outbox.get('acme', gone.key)).toMatchObject({
        status: 'failed',
        lastError: 'webhook deleted',
      }),
    );
    expect(receiver.received.filter((x) => x.body.id === 'evt_3')).toHaveLength(0);
  });

  it('deduplicates by key, skips a torn last line, and compacts to the pending plus the newest finished', async () => {
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    expect(await outbox.add(record(1, t0))).toBe(true);
    expect(await outbox.add(record(1, t0))).toBe(false);
    for (let i = 2; i <= 300; i++) {
      const r = record(i, t0 + i);
      await outbox.add(r);
      await outbox.update({
        ...r,
        status: 'delivered',
        attempts: 1,
        deliveredAt: new Date(t0 + i).toISOString(),
      });
    }
    await outbox.close();
    const path = join(dir, 'outbox', 'acme.jsonl');
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    // Compacted on the way: far fewer lines than the 599 state changes written.
    expect(lines.length).toBeLessThan(2 * (1 + KEEP_FINISHED_PER_WEBHOOK) + 256 + 1);
    await appendFile(path, '{"key":"evt_torn:main","tenant":"ac');
    const reopened = new FileOutbox(dir);
    expect((await reopened.pending()).map((r) => r.key)).toEqual(['evt_1:main']);
    const recent = await reopened.recent('acme', 'main', 500);
    expect(recent.length).toBeLessThan(300);
    expect(recent[0]?.id).toBe('evt_300');
    expect(recent.filter((r) => r.status === 'delivered').length).toBeGreaterThanOrEqual(
      KEEP_FINISHED_PER_WEBHOOK,
    );
    await reopened.close();
  });
});
