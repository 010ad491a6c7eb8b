import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../../src/agent/transport/backoff.js';
import { classifyCloseCode, classifyHttpStatus } from '../../../src/agent/transport/classify.js';

const policy = { baseDelayMs: 250, maxDelayMs: 4000 };

describe('backoffDelayMs', () => {
  it('grows exponentially up to the cap (upper bound with random → 1)', () => {
    const almostOne = (): number => 0.999999;
    expect([1, 2, 3, 4, 5, 6, 40].map((n) => backoffDelayMs(n, policy, almostOne))).toEqual([
      249, 499, 999, 1999, 3999, 3999, 3999,
    ]);
  });

  it('applies full jitter: uniform in [0, cap)', () => {
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(500);
  });

  it('is 0 before the first retry and tolerates a broken random source', () => {
    expect(backoffDelayMs(0, policy, () => 0.5)).toBe(0);
    expect(backoffDelayMs(2, policy, () => Number.NaN)).toBe(0);
    expect(backoffDelayMs(2, policy, () => 7)).toBe(0);
  });
});

describe('classify', () => {
  it('HTTP status of a refused upgrade', () => {
    expect(classifyHttpStatus(401)).toEqual({ retryable: false, code: 'AGENT_AUTH_FAILED' });
    expect(classifyHttpStatus(403)).toEqual({ retryable: false, code: 'AGENT_AUTH_FAILED' });
    expect(classifyHttpStatus(404)).toEqual({ retryable: false, code: 'AGENT_CONNECT_FAILED' });
    expect(classifyHttpStatus(429)).toEqual({ retryable: true, code: 'AGENT_CONNECT_FAILED' });
    expect(classifyHttpStatus(503)).toEqual({ retryable: true, code: 'AGENT_CONNECT_FAILED' });
  });

  it('close codes', () => {
    for (const code of [1001, 1006, 1011, 1012, 1013])
      expect(classifyCloseCode(code, '').retryable).toBe(true);
    for (const code of [1000, 1002, 1008, 1009, 4000])
      expect(classifyCloseCode(code, '').retryable).toBe(false);
  });
});
