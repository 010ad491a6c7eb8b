/**
 * Retries an assertion until it passes or `timeoutMs` runs out (then rethrows its last failure): for state
 * that settles asynchronously, such as a server's call list after a BYE. Polls every 100 ms; resolves
 * with what the check returned.
 */
export async function eventually<T = void>(check: () => T | Promise<T>, timeoutMs = 8000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
