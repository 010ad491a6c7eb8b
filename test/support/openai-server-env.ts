/**
 * One production server (startTestServer) whose tenant `acme` talks to a fresh OpenAI Realtime mock, plus a
 * temp directory for the test's clips and scenarios: the setup the turn-taking tests (issue 14) share.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOpenAIMock, type OpenAIMockServer } from './openai-mock.js';
import { startTestServer, type TestServer } from './server.js';

export interface OpenAIServerEnv {
  readonly dir: string;
  readonly mock: OpenAIMockServer;
  readonly srv: TestServer;
  close(): Promise<void>;
}

/**
 * `agent` lines go under `agent:` after `provider: openai` (indented by the caller, two spaces); `dir`
 * exists before the lines are built, so they may name files in it.
 */
export async function startOpenAIServerEnv(
  prefix: string,
  agent: (dir: string) => string[],
  numbers = '["*"]',
): Promise<OpenAIServerEnv> {
  const dir = await mkdtemp(join(tmpdir(), `sb-${prefix}-`));
  const mock = await startOpenAIMock({ mode: 'ga' });
  const srv = await startTestServer({
    logLevel: 'info',
    dialplans: {
      'acme.yaml': [
        'tenant: acme',
        `numbers: ${numbers}`,
        'agent:',
        '  provider: openai',
        ...agent(dir),
      ].join('\n'),
    },
  });
  await srv.server.store.putCredential('acme', 'openai', { apiKey: 'sk-test', url: mock.url });
  return {
    dir,
    mock,
    srv,
    async close() {
      await srv.close();
      await mock.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
