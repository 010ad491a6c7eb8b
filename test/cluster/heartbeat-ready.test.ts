/**
 * The instance heartbeat over a command connection without an offline queue (real Redis on 127.0.0.1:6379):
 * a beat sent while the connection is still connecting fails at once, so the heartbeat must beat again as
 * soon as the connection is ready, not a whole interval later. Otherwise a call published in between is
 * listed by the other instances as `lost` and answers 410 (seen in CI: api-cluster, GET through B → 410).
 * The same holds after Redis drops the connection and it comes back.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { InstanceHeartbeat, instanceKey } from '../../src/cluster/index.js';
import { eventually } from '../support/eventually.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
/** Far longer than the test: only the ready-triggered beat can write the key in time. */
const INTERVAL_MS = 600_000;

describe('instance heartbeat and the connection becoming ready', () => {
  const prefix = `sbtest:hb:${randomBytes(4).toString('hex')}:`;
  const clients: Redis[] = [];
  const beats: InstanceHeartbeat[] = [];
  afterEach(async () => {
    for (const hb of beats.splice(0)) await hb.close();
    for (const c of clients.splice(0)) c.disconnect();
  });

  function start(id: string): { hb: InstanceHeartbeat; command: Redis; first: Promise<boolean> } {
    const command = new Redis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    clients.push(command);
    const hb = new InstanceHeartbeat({
      redis: command,
      keyPrefix: prefix,
      instanceId: id,
      logger: pino({ level: 'silent' }),
      intervalMs: INTERVAL_MS,
    });
    beats.push(hb);
    // Started before the connection is up, as startCluster may when Redis is slow to accept.
    return { hb, command, first: hb.start() };
  }

  it('writes its key once the connection is ready although the first beat failed', async () => {
    const reader = new Redis(REDIS_URL);
    clients.push(reader);
    const { hb, first } = start('early');
    expect(await first).toBe(false);
    const raw = await eventually(async () => {
      const value = await reader.get(instanceKey(prefix, 'early'));
      expect(value).not.toBeNull();
      return value!;
    }, 3000);
    expect(JSON.parse(raw)).toMatchObject({ boot: hb.boot, status: 'serving' });
  });

  it('writes it again at once after the connection was dropped and came back', async () => {
    const reader = new Redis(REDIS_URL);
    clients.push(reader);
    const { command, first } = start('again');
    await first;
    const key = instanceKey(prefix, 'again');
    await eventually(async () => expect(await reader.get(key)).not.toBeNull(), 3000);
    await reader.del(key);
    // Redis closes our connection; ioredis reconnects by itself and the ready beat rewrites the key.
    // Only this test's connection: the Redis is shared with other tests.
    const id = String(await command.client('ID'));
    expect(await reader.client('KILL', 'ID', id)).toBe(1);
    await eventually(async () => expect(await reader.get(key)).not.toBeNull(), 5000);
  });
});
