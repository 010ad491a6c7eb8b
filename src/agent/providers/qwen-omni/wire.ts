/** Small pure helpers for the Qwen-Omni wire. */
import type { QwenServerEvent, QwenServerEventType } from './schemas.js';

/** PCM16 16 kHz in, 24 kHz out [Q1]. */
export const INPUT_RATE_HZ = 16_000;
export const OUTPUT_RATE_HZ = 24_000;

export function optId(itemId: string | undefined): { itemId?: string } {
  return itemId !== undefined ? { itemId } : {};
}

/** Wire-tap view: audio deltas become `{audioMs, bytes}`. */
export function tapView(type: QwenServerEventType, e: unknown): unknown {
  if (type !== 'response.audio.delta') return e;
  const d = e as QwenServerEvent<'response.audio.delta'>;
  const bytes = Buffer.byteLength(d.delta, 'base64');
  return { ...d, delta: { audioMs: bytes / ((OUTPUT_RATE_HZ / 1000) * 2), bytes } };
}
