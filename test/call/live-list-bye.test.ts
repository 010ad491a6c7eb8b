/**
 * An ended call leaves the live list when the server's BYE is sent, not when its response arrives (issue
 * 19: calls stayed `active` in GET /v1/calls for ~32 s while the BYE waited for a response). The production
 * server (startTestServer) answers a sipp caller that receives the server's BYE and its retransmissions and
 * never answers them, so the BYE transaction stays up for Timer F (64·T1 = 32 s, RFC 3261 §17.1.2.2).
 * sipp on 127.0.0.173:57020 (media 57030).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { describeSipp, startSipp } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';

const SCENARIO = fileURLToPath(new URL('./scenarios/uac-bye-unanswered.xml', import.meta.url));

interface Listed {
  readonly id: string;
  readonly state?: string;
}

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    dialplans: { 'demo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo }\n' },
  });
});

afterAll(async () => {
  await server.close();
});

describe('live call list', () => {
  it('drops a call the API hung up while its BYE is still unanswered', { timeout: 60_000 }, async () => {
    const sipp = startSipp({
      scenario: SCENARIO,
      target: `127.0.0.1:${server.sipPort}`,
      localIp: '127.0.0.173',
      localPort: 57020,
      mediaPort: 57030,
      service: '100',
      timeoutMs: 45_000,
    });
    let id = '';
    await eventually(async () => {
      const calls = (await server.api('GET', '/v1/calls')).json.calls as Listed[];
      expect(calls).toHaveLength(1);
      id = calls[0]!.id;
    }, 20_000);

    expect((await server.api('DELETE', `/v1/calls/${id}`)).status).toBe(204);
    // Well inside Timer F: before the fix the call stayed listed until the BYE transaction timed out.
    await eventually(async () => {
      expect((await server.api('GET', '/v1/calls')).json.calls).toEqual([]);
      // Not live any more: gone, or (issue 16) already the ended call's record in the history.
      const one = await server.api('GET', `/v1/calls/${id}`);
      expect(one.status === 404 || one.json.state === 'ended', JSON.stringify(one.json)).toBe(true);
    }, 10_000);
    const ended = server.logs.filter((l) => l.includes('"msg":"call ended"'));
    expect(ended).toHaveLength(1);

    // The peer really left the BYE unanswered: it saw the server retransmit it (Timer E), with the same
    // branch each time, i.e. one transaction still waiting for a response.
    const r = await sipp.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const byes = [...r.messages.matchAll(/^BYE sip:[\s\S]*?^Via: [^\n]*branch=([^;\s]+)/gm)].map((m) => m[1]);
    expect(byes.length, describeSipp(r)).toBeGreaterThanOrEqual(3);
    expect(new Set(byes).size).toBe(1);
    expect(r.messages).not.toMatch(/^SIP\/2\.0 \d{3}[^\n]*\n(?:[^\n]+\n)*CSeq: \d+ BYE/m);
  });
});
