/**
 * The outbox survives a restart (issue 16), on both stores: events whose receiver was down are still
 * pending when the server stops; a new server on the same data dir (file store) or the same Redis delivers
 * them once its receiver is back, exactly once, and a third start delivers nothing again.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Softphone } from '../../src/softphone/softphone.js';
import { eventually } from '../support/eventually.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { verifySignature, WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'whsec-restart-test-0123456789';
const DIALPLAN = 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, tools: { end_call: {} } }\n';
const REDIS_URL = 'redis://127.0.0.1:6379';

describe.each([
  ['file store', false],
  ['redis', true],
])('event webhook outbox across a restart (%s)', (_name, redis) => {
  let dataDir: string;
  let phone: Softphone;
  const prefix = `sbtest:wh:${randomBytes(4).toString('hex')}:`;
  const masterKey = randomBytes(32).toString('base64');
  const env = { WEBHOOK_ALLOW_PRIVATE: 'true', ...(redis ? { REDIS_URL, MASTER_KEY: masterKey } : {}) };
  const start = (): Promise<TestServer> =>
    startTestServer({
      env,
      dataDir,
      dialplans: { 'demo.yaml': DIALPLAN },
      ...(redis ? { redisKeyPrefix: prefix } : {}),
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sb-wh-restart-'));
    phone = new Softphone({
      logger: pino({ level: 'silent' }),
      host: redis ? '127.0.1.44' : '127.0.1.43',
      rtpPortMin: 47200,
      rtpPortMax: 47399,
    });
    await phone.start();
  });
  afterAll(async () => {
    await phone.close();
    await rm(dataDir, { recursive: true, force: true });
    if (redis) {
      const client = new Redis(REDIS_URL);
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(...keys);
      await client.quit();
    }
  });

  it('delivers what was pending at the stop once the receiver is back, exactly once', async () => {
    const host = redis ? '127.0.1.46' : '127.0.1.45';
    // The receiver's port, then the receiver down: every attempt is refused.
    const probe = await WebhookReceiver.start({ host });
    const port = probe.port;
    const url = probe.url;
    await probe.close();

    const first = await start();
    const key = (await first.api('POST', '/v1/tenants/demo/keys')).json.token as string;
    const put = await first.api(
      'PUT',
      '/v1/tenants/demo/webhooks/main',
      { url, secret: SECRET, events: ['call.started', 'call.answered', 'call.ended', 'tool.called'] },
      key,
    );
    expect(put.status).toBe(201);
    const result = await phone.call(first.uri('100'), { dtmf: '#', dtmfDelayMs: 300, durationMs: 8000 });
    expect(result.endedBy).toBe('remote');
    const deliveries = async (srv: TestServer): Promise<any[]> =>
      (await srv.api('GET', '/v1/tenants/demo/webhooks/main/deliveries', undefined, key)).json.deliveries;
    // All four attempted at least once and refused, still pending.
    await eventually(async () => {
      const list = await deliveries(first);
      expect(list).toHaveLength(4);
      for (const d of list) {
        expect(d.status).toBe('pending');
        expect(d.attempts).toBeGreaterThanOrEqual(1);
        expect(d.last_error).toMatch(/ECONNREFUSED/);
      }
    }, 10_000);
    const pendingIds = (await deliveries(first)).map((d) => d.id as string).sort();
    await first.close();
    if (!redis) {
      const lines = (await readFile(join(dataDir, 'outbox', 'demo.jsonl'), 'utf8')).trim().split('\n');
      const last = new Map(lines.map((l) => JSON.parse(l)).map((r) => [r.key, r]));
      expect([...last.values()].map((r) => r.status)).toEqual(['pending', 'pending', 'pending', 'pending']);
    }

    const receiver = await WebhookReceiver.start({ host, port });
    try {
      const second = await start();
      try {
        expect(second.logs.join('')).toMatch(/"deliveries":4,"msg":"webhook deliveries resumed"/);
        await receiver.until((r) => r.length === 4, 15_000);
        expect(receiver.received.map((r) => r.body.id).sort()).toEqual(pendingIds);
        for (const r of receiver.received)
          expect(verifySignature(SECRET, r.headers['switchboard-signature'] as string, r.raw)).toBe(true);
        await eventually(async () => {
          const list = await deliveries(second);
          expect(list.map((d) => d.status)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
          for (const d of list) expect(d.attempts).toBeGreaterThanOrEqual(2);
        }, 5000);
      } finally {
        await second.close();
      }
      // Delivered means done: a third start sends nothing again.
      const third = await start();
      try {
        await new Promise((r) => setTimeout(r, 2000));
        expect(receiver.received).toHaveLength(4);
        expect(third.logs.join('')).not.toContain('webhook deliveries resumed');
      } finally {
        await third.close();
      }
    } finally {
      await receiver.close();
    }
  }, 60_000);
});
