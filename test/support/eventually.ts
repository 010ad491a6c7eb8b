/**
 * Retries an assertion until it passes or `timeoutMs` runs out (then rethrows its last failure): for state
 * that settles asynchronously, such as a server's call list after a BYE. Polls every 100 ms.
 */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 8000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
