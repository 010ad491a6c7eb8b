import { networkInterfaces } from 'node:os';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { parseDnsServers } from './dns-servers.js';

/** First non-internal IPv4 address of this host, else loopback: what peers can reach us on by default. */
export function defaultPublicHost(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return '127.0.0.1';
}

const port = z.coerce.number().int().min(0).max(65535);
const nonEmpty = z.string().trim().min(1);
const transports = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== ''),
  )
  .pipe(z.array(z.enum(['udp', 'tcp', 'tls'])).min(1))
  .transform((list) => [...new Set(list)]);

const envShape = z.object({
  SIP_HOST: nonEmpty.default('0.0.0.0'),
  SIP_PORT: port.default(5060),
  SIP_TRANSPORTS: transports.default(['udp', 'tcp']),
  SIP_PUBLIC_HOST: nonEmpty.optional(),
  /** SIP over TLS (embedded backend, SIP_TRANSPORTS includes tls): its own port, PEM certificate and key. */
  SIP_TLS_PORT: port.default(5061),
  SIP_TLS_CERT: nonEmpty.optional(),
  SIP_TLS_KEY: nonEmpty.optional(),
  /** PEM CA bundle: trusted for client certificates and, with the system roots, for servers we dial. */
  SIP_TLS_CA: nonEmpty.optional(),
  /** Client certificates on inbound TLS: none (default), optional (checked if sent), require (mutual TLS). */
  SIP_TLS_VERIFY_CLIENT: z.enum(['none', 'optional', 'require']).default('none'),
  /** A TLS handshake must finish this long after the TCP connection was accepted. */
  SIP_TLS_HANDSHAKE_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  /** How often SIP_TLS_CERT/KEY/CA are checked for changes (new connections get the new certificate). */
  SIP_TLS_RELOAD_MS: z.coerce.number().int().min(100).default(5000),
  /** Address advertised in SDP (c=) when media lives on another address than SIP; default SIP_PUBLIC_HOST. */
  SIP_MEDIA_HOST: z.union([z.ipv4(), z.ipv6()]).optional(),
  RTP_PORT_MIN: port.default(20000),
  RTP_PORT_MAX: port.default(30000),
  /** RTCP (RFC 3550) on every call: reports on RTP port + 1 (or rtcp-mux), quality stats. */
  RTCP: z.enum(['on', 'off']).default('on'),
  /** Mean RTCP report interval (randomised 0.5–1.5× per report); RFC 3550 §6.2 recommends 5 s. */
  RTCP_INTERVAL_MS: z.coerce.number().int().min(500).max(60_000).default(5000),
  HTTP_HOST: nonEmpty.default('0.0.0.0'),
  HTTP_PORT: port.default(8080),
  SIGNALING: z.enum(['embedded', 'drachtio']).default('embedded'),
  DRACHTIO_HOST: nonEmpty.optional(),
  DRACHTIO_PORT: port.default(9022),
  DRACHTIO_SECRET: nonEmpty.optional(),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  /** Cluster liveness: each instance rewrites its heartbeat key (and its call keys) this often. */
  CLUSTER_HEARTBEAT_MS: z.coerce.number().int().min(100).default(5000),
  /** An instance whose heartbeat is older than this is dead: its calls are listed `lost`, answer 410. */
  CLUSTER_INSTANCE_TTL_MS: z.coerce.number().int().min(200).optional(),
  /** A lost call stays listed this long before a live instance removes it (reason `instance-lost`). */
  CLUSTER_LOST_RETENTION_MS: z.coerce.number().int().min(100).default(300_000),
  /** A relayed request (GET/DELETE/transfer of another live instance's call) gets 504 after this long. */
  CLUSTER_RELAY_TIMEOUT_MS: z.coerce.number().int().min(100).default(3000),
  /** Redis key (and channel) prefix shared by the instances of one deployment; default `switchboard:`. */
  REDIS_KEY_PREFIX: nonEmpty.optional(),
  DATA_DIR: nonEmpty.default('./data'),
  DIALPLANS_DIR: nonEmpty.default('./dialplans'),
  RECORDINGS_DIR: nonEmpty.default('./recordings'),
  /** Call history (CDRs and transcripts, issue 16): days a record is kept before it is pruned. */
  CALL_HISTORY_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** JSON price table per provider and model for the CDR's estimated cost (outcomes/prices.ts); unset: no cost. */
  PRICES_FILE: nonEmpty.optional(),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  MASTER_KEY: z
    .string()
    .refine((s) => Buffer.from(s, 'base64').length === 32, 'must be 32 bytes, base64-encoded')
    .optional(),
  /** This instance's name in logs and the cluster's call registry (default: the host name). */
  INSTANCE_ID: nonEmpty.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `json` (default: one pino JSON object per line) or `pretty` (one readable line, for a terminal). */
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  /** SIP front door (issue 11): inbound TCP connections per source address and in total. */
  SIP_TCP_MAX_PER_SOURCE: z.coerce.number().int().positive().default(32),
  SIP_TCP_MAX_CONNECTIONS: z.coerce.number().int().positive().default(2048),
  /** A SIP message over TCP must complete this long after its first byte; slower peers are disconnected. */
  SIP_TCP_HEADER_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  /** A TCP connection carrying no dialog is closed after this long without a complete message. */
  SIP_TCP_IDLE_MS: z.coerce.number().int().min(100).default(60_000),
  /** Initial INVITEs per second one source address may send (token bucket), and its burst. */
  SIP_INVITE_RATE: z.coerce.number().positive().default(10),
  SIP_INVITE_BURST: z.coerce.number().int().positive().default(20),
  /** Concurrent calls in this process, INVITEs awaiting their ACK included; beyond it: 503 + Retry-After. */
  SIP_MAX_CALLS: z.coerce.number().int().positive().default(1000),
  /** Graceful drain (SIGTERM, POST /v1/admin/drain): the longest calls in progress may take to end by themselves. */
  DRAIN_TIMEOUT_S: z.coerce.number().int().min(0).default(3600),
  /** `unrouted`: scanners and INVITEs no dialplan routes get no answer at all. */
  SIP_SILENT_DROP: z.enum(['off', 'unrouted']).default('off'),
  /** RFC 3263 resolution of outbound SIP targets: `host:port,…` (IPv6 as `[::1]:53`); default: the system's. */
  DNS_SERVERS: z
    .string()
    .transform((s, ctx) => {
      const servers = parseDnsServers(s);
      if (servers === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a comma-separated list of IP[:port]' });
        return z.NEVER;
      }
      return servers;
    })
    .optional(),
  /** An outbound target that sends no SIP response at all this long is skipped for the next DNS target. */
  SIP_FAILOVER_TIMEOUT_MS: z.coerce.number().int().min(100).default(4000),
  /** RFC 4028 session timers (embedded backend): our Min-SE (a smaller Session-Expires gets 422) and the interval we ask for. */
  /** Outbound registrations: keep-alive interval while registered (CRLF on TCP, OPTIONS on UDP); 0 = off. */
  SIP_REGISTER_KEEPALIVE_S: z.coerce.number().int().min(0).max(3600).default(30),
  SIP_SESSION_MIN_SE: z.coerce.number().int().positive().default(90),
  SIP_SESSION_EXPIRES: z.coerce.number().int().positive().default(1800),
  /** Hosts a tenant key may point a provider `url` at: comma-separated `host[:port]`, `*.example.com`. */
  PROVIDER_URL_ALLOW: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((p) => p.trim().toLowerCase())
        .filter((p) => p !== ''),
    )
    .default([]),
  /** A token that may read /metrics besides the admin token (for a Prometheus scraper). */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Per-tenant API rate: tokens per second and bucket size (a tenant may burst this many requests). */
  API_TENANT_RATE_PER_S: z.coerce.number().positive().default(20),
  API_TENANT_BURST: z.coerce.number().int().positive().default(60),
  /** How long an instance trusts a cached tenant key: the longest a revoked key survives without Redis. */
  API_KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).default(5000),
  /**
   * Register the `replay` provider (answers from a recording) in `serve`; off in production (issue 11).
   * `switchboard replay` registers it for its own in-process server regardless.
   */
  ENABLE_REPLAY_PROVIDER: z
    .enum(['true', 'false', '1', '0'])
    .transform((v) => v === 'true' || v === '1')
    .default(false),
  /** Event webhooks (issue 16) may be delivered to loopback/private addresses (operators, tests); off by default. */
  WEBHOOK_ALLOW_PRIVATE: z
    .enum(['true', 'false', '1', '0'])
    .transform((v) => v === 'true' || v === '1')
    .default(false),
  /** One event webhook delivery attempt's timeout; a receiver slower than this is retried with backoff. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /** First retry delay of an event webhook delivery (doubles per attempt, capped at 10 min, dropped after 24 h). */
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(600_000).default(1000),
});

/** The names of every setting Switchboard reads; nothing else in the code reads process.env. */
export const CONFIG_VARIABLES = Object.freeze(Object.keys(envShape.shape));

export const configSchema = envShape
  .superRefine((c, ctx) => {
    if (c.RTP_PORT_MIN > c.RTP_PORT_MAX) {
      ctx.addIssue({ code: 'custom', path: ['RTP_PORT_MIN'], message: 'must not exceed RTP_PORT_MAX' });
    }
    if (c.RTP_PORT_MAX - c.RTP_PORT_MIN < 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['RTP_PORT_MAX'],
        message: 'range must hold at least one even port pair',
      });
    }
    if (c.CLUSTER_INSTANCE_TTL_MS !== undefined && c.CLUSTER_INSTANCE_TTL_MS < 2 * c.CLUSTER_HEARTBEAT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['CLUSTER_INSTANCE_TTL_MS'],
        message: 'must be at least twice CLUSTER_HEARTBEAT_MS (one late heartbeat must not kill an instance)',
      });
    }
    if (c.SIP_TRANSPORTS.includes('tls') && c.SIGNALING === 'embedded') {
      for (const name of ['SIP_TLS_CERT', 'SIP_TLS_KEY'] as const) {
        if (c[name] === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: 'required when SIP_TRANSPORTS includes tls',
          });
      }
    }
    if (c.SIP_TLS_VERIFY_CLIENT !== 'none' && c.SIP_TLS_CA === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['SIP_TLS_CA'],
        message: `required when SIP_TLS_VERIFY_CLIENT=${c.SIP_TLS_VERIFY_CLIENT} (the CA client certificates must chain to)`,
      });
    }
    if (c.SIGNALING === 'drachtio' && c.DRACHTIO_HOST === undefined) {
      ctx.addIssue({ code: 'custom', path: ['DRACHTIO_HOST'], message: 'required when SIGNALING=drachtio' });
    }
  })
  .transform((c) => ({
    ...c,
    SIP_PUBLIC_HOST: c.SIP_PUBLIC_HOST ?? defaultPublicHost(),
    CLUSTER_INSTANCE_TTL_MS: c.CLUSTER_INSTANCE_TTL_MS ?? 3 * c.CLUSTER_HEARTBEAT_MS,
  }));

export type Config = Readonly<z.output<typeof configSchema>>;

/**
 * Parse the settings once from an environment map and freeze them. Empty strings count as unset, so
 * `FOO= npm start` falls back to the default. A bad value throws a ConfigError naming the variable.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const relevant: Record<string, string> = {};
  for (const key of CONFIG_VARIABLES) {
    const v = env[key];
    if (v !== undefined && v !== '') relevant[key] = v;
  }
  const parsed = configSchema.safeParse(relevant);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = issue?.path[0] === undefined ? 'environment' : String(issue.path[0]);
    throw new ConfigError(variable, issue?.message ?? 'invalid');
  }
  return Object.freeze(parsed.data);
}
