import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ADMIN_TOKEN_FILE } from '../http/auth.js';
import { CliError, EXIT, systemCode } from './cli-errors.js';

interface ApiOptions {
  url: string;
  token?: string;
  dataDir: string;
  timeoutMs?: number;
}

async function token(opts: ApiOptions): Promise<string> {
  if (opts.token !== undefined) return opts.token;
  try {
    return (await readFile(join(opts.dataDir, ADMIN_TOKEN_FILE), 'utf8')).trim();
  } catch {
    throw new CliError(`no --token given and no ${ADMIN_TOKEN_FILE} in ${opts.dataDir}`);
  }
}

/** Calls the control API and prints the JSON answer; exits non-zero with the API's error message. */
async function call(opts: ApiOptions, method: string, path: string, body?: unknown): Promise<void> {
  let url: URL;
  try {
    url = new URL(path, opts.url);
  } catch {
    throw new CliError(`--url ${opts.url} is not a URL`);
  }
  const bearer = await token(opts);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${bearer}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
  } catch (err) {
    const why =
      systemCode(err) ?? (err instanceof Error && err.name === 'TimeoutError' ? 'timed out' : 'failed');
    throw new CliError(
      `cannot reach the control API at ${url.origin} (${why}): is the server running? (--url sets the address)`,
      EXIT.unavailable,
    );
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text;
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
      message = `${parsed.error?.code ?? res.status}: ${parsed.error?.message ?? text}`;
    } catch {
      // Not JSON: print as is.
    }
    process.stderr.write(`switchboard: ${method} ${path} failed: ${message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(
    text === '' ? `ok (${res.status})\n` : `${JSON.stringify(JSON.parse(text), null, 2)}\n`,
  );
}

/** Parse `key=value` pairs; values that look like JSON booleans/numbers are converted. */
export function parseFields(pairs: readonly string[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`expected key=value, got "${pair}" (e.g. apiKey=sk-…)`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    fields[key] = raw === 'true' ? true : raw === 'false' ? false : raw;
  }
  return fields;
}

/** `switchboard tenants …`: the tenant API for people without curl. */
export function registerTenantCommands(program: Command): void {
  const tenants = program
    .command('tenants')
    .description('manage tenants and their provider credentials through the control API')
    .option('--url <url>', 'control API base URL', 'http://127.0.0.1:8080')
    .option('--token <token>', 'admin or tenant token (default: DATA_DIR/admin.token)')
    .option('--data-dir <dir>', 'where the generated admin token lives', './data');
  const opts = (): ApiOptions => tenants.opts<ApiOptions>();

  tenants
    .command('list')
    .description('list tenants')
    .action(() => call(opts(), 'GET', '/v1/tenants'));
  tenants
    .command('providers')
    .description('list providers and their credential fields')
    .action(() => call(opts(), 'GET', '/v1/providers'));
  tenants
    .command('set-credential <tenant> <provider> <fields...>')
    .description('store a provider credential, e.g. set-credential acme openai apiKey=sk-…')
    .action((tenant: string, provider: string, fields: string[]) =>
      call(
        opts(),
        'PUT',
        `/v1/tenants/${encodeURIComponent(tenant)}/credentials/${encodeURIComponent(provider)}`,
        parseFields(fields),
      ),
    );
  tenants
    .command('get-credential <tenant> <provider>')
    .description('show a credential with secrets masked')
    .action((tenant: string, provider: string) =>
      call(
        opts(),
        'GET',
        `/v1/tenants/${encodeURIComponent(tenant)}/credentials/${encodeURIComponent(provider)}`,
      ),
    );
  tenants
    .command('delete-credential <tenant> <provider>')
    .action((tenant: string, provider: string) =>
      call(
        opts(),
        'DELETE',
        `/v1/tenants/${encodeURIComponent(tenant)}/credentials/${encodeURIComponent(provider)}`,
      ),
    );
  tenants
    .command('create-key <tenant>')
    .description('create a tenant API key (shown once)')
    .action((tenant: string) => call(opts(), 'POST', `/v1/tenants/${encodeURIComponent(tenant)}/keys`));
  tenants
    .command('revoke-key <tenant> <id>')
    .description('delete a tenant API key; every instance refuses it within seconds')
    .action((tenant: string, id: string) =>
      call(opts(), 'DELETE', `/v1/tenants/${encodeURIComponent(tenant)}/keys/${encodeURIComponent(id)}`),
    );
}
