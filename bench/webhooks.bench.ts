/**
 * Event webhook delivery latency on loopback, without calls in the same process: the production pieces
 * (sealed subscriptions in the file TenantStore, the file outbox with fsync, the deliverer) and a node:http
 * receiver. Events are published 5 ms apart to two webhooks; latency = event created → receiver has it.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { FileOutbox } from '../src/outcomes/file-outbox.js';
import { WebhookService } from '../src/outcomes/webhook-service.js';
import { CredentialCipher } from '../src/tenants/crypto.js';
import { FileRecordBackend } from '../src/tenants/file-backend.js';
import { EncryptedTenantStore } from '../src/tenants/tenant-store.js';
import { fmt, percentile } from './util.js';

const EVENTS = 300;

export async function run(print: (line: string) => void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-bench-wh-'));
  const logger = pino({ level: process.env.BENCH_LOG ?? 'silent' });
  const latencies: number[] = [];
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { created_at: string };
      latencies.push(Date.now() - Date.parse(body.created_at));
      res.writeHead(200).end();
      if (latencies.length === 2 * EVENTS) done();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const store = new EncryptedTenantStore({
    backend: new FileRecordBackend(dir),
    cipher: new CredentialCipher(randomBytes(32)),
    logger,
  });
  const service = new WebhookService({
    store,
    outbox: new FileOutbox(dir),
    logger,
    allowPrivate: true,
    timeoutMs: 10_000,
    retryBaseMs: 1000,
  });
  await service.start();
  for (const name of ['a', 'b'])
    await service.put('acme', name, { url, secret: 'bench-secret-0123456789', events: ['call.ended'] });
  for (let i = 0; i < EVENTS; i++) {
    service.publisher.publish('acme', 'call.ended', { call_id: `call-${i}`, n: i });
    await new Promise((r) => setTimeout(r, 5));
  }
  await finished;
  latencies.sort((a, b) => a - b);
  print(
    `file outbox, ${2 * EVENTS} deliveries (${EVENTS} events × 2 webhooks, one every 5 ms): ` +
      `p50 ${fmt(percentile(latencies, 50), 0)} ms, p95 ${fmt(percentile(latencies, 95), 0)} ms, ` +
      `max ${fmt(latencies.at(-1) ?? NaN, 0)} ms`,
  );
  await service.close();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
}
