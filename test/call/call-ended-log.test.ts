/**
 * The "call ended" log lists the tools that ran (issue 19: it said `"tools":[]` after end_call hung up the
 * call, because end_call ends the call before its outcome is recorded). The production server
 * (startTestServer) with the echo agent, which turns the caller's # into end_call; a sipp caller presses #
 * (RFC 4733, the sip-tester pcap) and waits for the server's BYE. sipp on 127.0.0.174:57040 (media 57050).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { describeSipp, startSipp } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';

const SCENARIO = fileURLToPath(new URL('./scenarios/uac-pound-wait-bye.xml', import.meta.url));

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    dialplans: {
      'demo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, tools: { end_call: {} } }\n',
    },
  });
});

afterAll(async () => {
  await server.close();
});

describe('call ended log', () => {
  it('names end_call when the agent hung up with it', { timeout: 60_000 }, async () => {
    const r = await startSipp({
      scenario: SCENARIO,
      target: `127.0.0.1:${server.sipPort}`,
      localIp: '127.0.0.174',
      localPort: 57040,
      mediaPort: 57050,
      service: '100',
      timeoutMs: 40_000,
    }).result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    let ended: { reason?: string; tools?: string[] } = {};
    await eventually(() => {
      const line = server.logs.find((l) => l.includes('"msg":"call ended"'));
      expect(line).toBeDefined();
      ended = JSON.parse(line!) as typeof ended;
    });
    expect(ended.reason).toBe('end_call');
    expect(ended.tools).toEqual(['end_call:in-progress']);
  });
});
