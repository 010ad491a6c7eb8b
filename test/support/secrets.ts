/**
 * The no-secrets-in-logs check (STYLE.md §7: credentials never reach a log line). Each e2e file runs it
 * last over the log lines its test servers wrote (`allServerLogs` holds this worker's lines).
 */
import { expect } from 'vitest';

/** Fails naming the first secret found and the line (with the secret masked) that held it. */
export function expectNoSecretsIn(logs: readonly string[], secrets: ReadonlyArray<string | undefined>): void {
  const wanted = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 6);
  expect(wanted.length, 'no secrets given to look for').toBeGreaterThan(0);
  expect(logs.length, 'no log lines captured').toBeGreaterThan(0);
  for (const secret of wanted) {
    const line = logs.find((l) => l.includes(secret));
    const shown = line?.split(secret).join('<SECRET>').slice(0, 500);
    expect(line, `a secret (${secret.slice(0, 4)}…) appears in a log line: ${shown ?? ''}`).toBeUndefined();
  }
}
