/**
 * GET /v1/dialplans (issue 19): which dialplans the server runs and which files it refused. The admin sees
 * every file and every load error (with the file and field), a tenant key only its own dialplan.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

describe('GET /v1/dialplans', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: {
        'acme.yaml': 'tenant: acme\nnumbers: ["+15550001"]\nagent: { provider: echo }\n',
        'globex.yaml': 'tenant: globex\nnumbers: ["+15550002"]\nagent: { provider: echo }\n',
        'broken.yaml': 'tenant: initech\nnumbers: ["+15550003"]\nagent: { provider: echo, voice: [1, 2] }\n',
        'taken.yaml': 'tenant: umbrella\nnumbers: ["15550001"]\nagent: { provider: echo }\n',
      },
    });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('admin: the loaded dialplans and each refused file with its reason', async () => {
    const r = await srv.api('GET', '/v1/dialplans');
    expect(r.status).toBe(200);
    expect(r.json.dialplans).toEqual([
      { file: 'acme.yaml', tenant: 'acme', numbers: ['+15550001'], provider: 'echo' },
      { file: 'globex.yaml', tenant: 'globex', numbers: ['+15550002'], provider: 'echo' },
    ]);
    const errors = r.json.errors as { file: string; message: string }[];
    expect(errors.map((e) => e.file)).toEqual(['broken.yaml', 'taken.yaml']);
    expect(errors[0]?.message).toMatch(/^broken\.yaml: .*voice/);
    expect(errors[1]?.message).toBe('taken.yaml: numbers: "15550001" is already routed by acme.yaml');
  });

  it('a tenant key: only its own dialplan, no load errors', async () => {
    const created = await srv.api('POST', '/v1/tenants/globex/keys');
    expect(created.status).toBe(201);
    const r = await srv.api('GET', '/v1/dialplans', undefined, created.json.token as string);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      dialplans: [{ file: 'globex.yaml', tenant: 'globex', numbers: ['+15550002'], provider: 'echo' }],
    });
  });

  it('no token: 401', async () => {
    const res = await fetch(`${srv.baseUrl}/v1/dialplans`);
    expect(res.status).toBe(401);
  });
});
