/**
 * Starts a whole Switchboard in-process for end-to-end tests: temp DATA/DIALPLANS/RECORDINGS dirs, SIP on
 * 127.0.0.1 with an ephemeral port, HTTP on port 0, a random RTP range, and the given dialplans and
 * credentials. Logs go to an in-memory array so tests can grep them (secrets must never appear).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/config.js';
import type { ProviderRegistry } from '../../src/agent/registry.js';
import { startServer, type CloseOptions, type Server } from '../../src/main.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetricsRegistry } from '../../src/observability/metrics.js';
import type { EmbeddedSignaling } from '../../src/sip/embedded/index.js';

export interface TestServerOptions {
  /** File name → YAML text. */
  readonly dialplans?: Readonly<Record<string, string>>;
  /** Stored before the server answers calls. */
  readonly credentials?: ReadonlyArray<{ tenant: string; provider: string; fields: Record<string, unknown> }>;
  /** Extra environment (e.g. REDIS_URL, MASTER_KEY). */
  readonly env?: Readonly<Record<string, string>>;
  readonly registry?: ProviderRegistry;
  readonly logLevel?: string;
  /** Reuse directories (e.g. a second instance or a restart). */
  readonly dataDir?: string;
  readonly recordingsDir?: string;
  /** Redis key/channel prefix (instances of one test share it; tests use a unique one). */
  readonly redisKeyPrefix?: string;
}

export interface TestServer {
  readonly server: Server;
  readonly sipPort: number;
  readonly httpPort: number;
  readonly baseUrl: string;
  readonly adminToken: string;
  readonly dataDir: string;
  readonly recordingsDir: string;
  readonly dialplansDir: string;
  /** Every log line written so far (JSON strings). */
  readonly logs: string[];
  /** `sip:<user>@127.0.0.1:<port>` */
  uri(user: string): string;
  /** Authenticated JSON request to the control API. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: any }>;
  /** `{ abrupt: true }`: the instance leaves the cluster as a killed process would (see CloseOptions). */
  close(options?: CloseOptions): Promise<void>;
}

/** All log lines of every test server in this worker, for the no-secrets-in-logs check. */
export const allServerLogs: string[] = [];

/** When set, every log line of every test server is also appended to this file (cross-worker greps). */
const sharedLogFile = process.env.SWITCHBOARD_TEST_LOG_FILE;

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const root = await mkdtemp(join(tmpdir(), 'sb-e2e-'));
  const dataDir = options.dataDir ?? join(root, 'data');
  const dialplansDir = join(root, 'dialplans');
  const recordingsDir = options.recordingsDir ?? join(root, 'recordings');
  await mkdir(dialplansDir, { recursive: true });
  for (const [name, text] of Object.entries(options.dialplans ?? {}))
    await writeFile(join(dialplansDir, name), text);
  const adminToken = `admin-${randomBytes(12).toString('hex')}`;
  // 20000–41099: below the fixed port blocks test peers bind (sipp, softphones and baresip from 41100 up), so
  // a server's RTP port can never take a peer's port in a parallel test file.
  const rtpBase = 20000 + randomInt(0, 211) * 100;
  const config = loadConfig({
    SIP_HOST: '127.0.0.1',
    SIP_PORT: '0',
    SIP_PUBLIC_HOST: '127.0.0.1',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    RTP_PORT_MIN: String(rtpBase),
    RTP_PORT_MAX: String(rtpBase + 199),
    DATA_DIR: dataDir,
    DIALPLANS_DIR: dialplansDir,
    RECORDINGS_DIR: recordingsDir,
    ADMIN_TOKEN: adminToken,
    LOG_LEVEL: options.logLevel ?? 'debug',
    ...options.env,
  });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const line = chunk.toString();
      logs.push(line);
      allServerLogs.push(line);
      if (sharedLogFile !== undefined && sharedLogFile !== '') appendFileSync(sharedLogFile, line);
      cb();
    },
  });
  const logger = createLogger({ level: config.LOG_LEVEL, destination });
  const server = await startServer({
    config,
    logger,
    metrics: createMetricsRegistry(),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    ...(options.redisKeyPrefix === undefined ? {} : { redisKeyPrefix: options.redisKeyPrefix }),
  });
  for (const c of options.credentials ?? []) await server.store.putCredential(c.tenant, c.provider, c.fields);
  const sipPort = (server.signaling as EmbeddedSignaling).port;
  const baseUrl = `http://127.0.0.1:${server.httpPort}`;
  return {
    server,
    sipPort,
    httpPort: server.httpPort,
    baseUrl,
    adminToken,
    dataDir,
    recordingsDir,
    dialplansDir,
    logs,
    uri: (user) => `sip:${user}@127.0.0.1:${sipPort}`,
    async api(method, path, body, token = adminToken) {
      const res = await fetch(baseUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
    },
    async close(closeOptions) {
      await server.close(closeOptions);
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** The server's Prometheus text (GET /metrics with the admin token). */
export async function metricsText(srv: TestServer): Promise<string> {
  const res = await fetch(`${srv.baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${srv.adminToken}` },
  });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}
