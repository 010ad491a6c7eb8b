/**
 * `switchboard tenants …` against a live test server: the commander program is built with the real
 * registerTenantCommands and run in-process, its stdout/stderr captured.
 */
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerTenantCommands } from '../../src/cli-commands/tenants.js';
import { expectNoSecretsIn } from '../support/secrets.js';
import { allServerLogs, startTestServer, type TestServer } from '../support/server.js';

const API_KEY = `sk-cli-${randomBytes(10).toString('hex')}`;

/** Run `switchboard tenants <args…>`; returns what it printed and the exit code it set. */
async function cli(
  srv: TestServer,
  args: string[],
  token = srv.adminToken,
): Promise<{ out: string; err: string; code: number }> {
  const program = new Command().exitOverride();
  registerTenantCommands(program);
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  const before = process.exitCode;
  try {
    await program.parseAsync(['tenants', '--url', srv.baseUrl, '--token', token, ...args], { from: 'user' });
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = before;
  return { out, err, code };
}

describe('switchboard tenants (CLI over the API)', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: { 'acme.yaml': 'tenant: acme\nnumbers: ["100"]\nagent: { provider: openai }\n' },
    });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('set-credential stores it; get-credential shows it with the secret masked', async () => {
    const set = await cli(srv, [
      'set-credential',
      'acme',
      'openai',
      `apiKey=${API_KEY}`,
      'url=ws://127.0.0.1:9/v1',
    ]);
    expect(set.err).toBe('');
    expect(set.code).toBe(0);
    const get = await cli(srv, ['get-credential', 'acme', 'openai']);
    expect(get.code).toBe(0);
    const shown = JSON.parse(get.out);
    expect(shown).toMatchObject({ provider: 'openai', fields: { url: 'ws://127.0.0.1:9/v1' } });
    expect(get.out).not.toContain(API_KEY);
    // The stored credential is the real one.
    const stored = await srv.server.store.getCredential('acme', 'openai');
    expect(stored?.fields.apiKey).toBe(API_KEY);
    const list = await cli(srv, ['list']);
    expect(list.out).toContain('acme');
  });

  it('reports API errors on stderr with a non-zero exit code', async () => {
    const bad = await cli(srv, ['set-credential', 'acme', 'openai', 'nokey=1']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/PUT .* failed: AGENT_CREDENTIAL_INVALID/);
    const denied = await cli(srv, ['get-credential', 'acme', 'openai'], 'not-a-valid-token-0000');
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/failed: .*401|HTTP_UNAUTHORIZED/);
  });

  it('runs last: no token or API key in any log line', () => {
    expectNoSecretsIn(allServerLogs, [srv.adminToken, API_KEY]);
  });
});
