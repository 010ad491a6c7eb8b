/** Removes every key under a test's unique prefix from a shared Redis (afterAll of multi-instance tests). */
import { Redis } from 'ioredis';

export async function clearRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    await redis.quit();
  }
}
