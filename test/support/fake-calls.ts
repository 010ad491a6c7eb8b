/**
 * A local call table for cluster tests that need no SIP: CallSummary values and a CallControl over a Map,
 * recording hang-ups. Transfers and dials fail unless a test supplies its own.
 */
import type { CallControl, CallSummary } from '../../src/http/ports.js';

export function fakeSummary(id: string, tenant = 'acme'): CallSummary {
  return {
    id,
    tenant,
    direction: 'inbound',
    from: '100',
    to: '200',
    startedAt: new Date().toISOString(),
    codec: 'PCMU',
    provider: 'echo',
    state: 'active',
  };
}

export interface FakeCallTable extends CallControl {
  readonly calls: Map<string, CallSummary>;
  readonly hungUp: string[];
}

export function fakeCallTable(ids: readonly string[], tenant = 'acme'): FakeCallTable {
  const calls = new Map(ids.map((id) => [id, fakeSummary(id, tenant)]));
  const hungUp: string[] = [];
  return {
    calls,
    hungUp,
    list: () => Promise.resolve([...calls.values()]),
    get: (id) => Promise.resolve(calls.get(id)),
    hangup: (id) => {
      hungUp.push(id);
      return Promise.resolve(calls.delete(id));
    },
    transfer: () => Promise.resolve({ ok: false, message: 'no' }),
    dial: () => Promise.reject(new Error('no')),
  };
}
