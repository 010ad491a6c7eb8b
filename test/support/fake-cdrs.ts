/** A call record as the call history stores it, for tests of paging, isolation and retention. */
import type { CallRecord } from '../../src/outcomes/index.js';

export function fakeCallRecord(
  id: string,
  tenant: string,
  endedMs: number,
  endReason = 'caller-bye',
): CallRecord {
  return {
    cdr: {
      version: 1,
      id,
      tenant,
      route: null,
      direction: 'inbound',
      from: '1000',
      to: '100',
      codec: 'PCMU',
      startedAt: new Date(endedMs - 60_000).toISOString(),
      answeredAt: new Date(endedMs - 59_000).toISOString(),
      endedAt: new Date(endedMs).toISOString(),
      durationMs: 59_000,
      endReason,
      provider: 'openai',
      model: null,
      agents: [],
      tools: [],
      transfers: [],
      bargeIns: 0,
      bargeInEvents: [],
      turnLatenciesMs: [],
      rtp: { packetsReceived: 0, packetsSent: 0, lost: 0, late: 0 },
      usage: [],
      recorded: false,
    },
    transcript: [{ role: 'caller', text: `hello ${id}`, startMs: 0, endMs: 10 }],
  };
}
