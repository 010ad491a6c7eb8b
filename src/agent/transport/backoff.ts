/** Reconnect pacing for provider WebSockets. Pure; the random source is injected for tests. */

export interface BackoffPolicy {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * Exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015):
 * a uniform delay in [0, min(maxDelayMs, baseDelayMs * 2^(retry-1))). Full jitter spreads the reconnects of
 * many calls that lost the same provider at the same instant, so they do not stampede it together.
 *
 * @param retry 1 for the first retry after a failure, 2 for the second, …
 */
export function backoffDelayMs(
  retry: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  if (retry < 1) return 0;
  const exponent = Math.min(retry - 1, 30); // 2^30 already exceeds any sane cap; avoids Infinity.
  const capMs = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  const r = random();
  const unit = r >= 0 && r < 1 ? r : 0;
  return Math.floor(Math.max(0, capMs) * unit);
}
