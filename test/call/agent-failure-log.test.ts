/**
 * An agent that cannot start is logged once, as what it is, with its reason once (issue 19: the error text
 * was repeated three times in one log line, because pino's err serializer appends every `cause`'s message
 * and each wrapper also copied it into its own). The production server (startTestServer) answers a sipp
 * caller with an OpenAI profile whose credential points at a closed port (127.0.0.1:9). sipp on
 * 127.0.0.174:57041 (media 57052).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { startSipp } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';

const SCENARIO = fileURLToPath(new URL('../sip/scenarios/uac-wait-bye.xml', import.meta.url));
const REASON = 'connect ECONNREFUSED 127.0.0.1:9';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    dialplans: { 'demo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: openai }\n' },
    credentials: [
      {
        tenant: 'demo',
        provider: 'openai',
        fields: { apiKey: 'sk-test-closed-port-0000', url: 'ws://127.0.0.1:9/v1/realtime' },
      },
    ],
    env: { PROVIDER_URL_ALLOW: '127.0.0.1' },
  });
});

afterAll(async () => {
  await server.close();
});

describe('agent failure log', () => {
  it('logs an AgentError once, with the connect error once', { timeout: 60_000 }, async () => {
    const sipp = startSipp({
      scenario: SCENARIO,
      target: `127.0.0.1:${server.sipPort}`,
      localIp: '127.0.0.174',
      localPort: 57041,
      mediaPort: 57052,
      service: '100',
      timeoutMs: 30_000,
    });
    let failure: { err?: { type?: string; message?: string } } = {};
    await eventually(() => {
      const lines = server.logs.filter((l) => l.includes('"msg":"agent could not start"'));
      expect(lines).toHaveLength(1);
      failure = JSON.parse(lines[0]!) as typeof failure;
    }, 20_000);
    await sipp.result;
    expect(failure.err?.type).toBe('AgentError');
    const message = failure.err?.message ?? '';
    expect(message).toContain(REASON);
    expect(message.split(REASON).length - 1).toBe(1);
    expect(server.logs.join('\n')).not.toMatch(/SipError/);
  });
});
