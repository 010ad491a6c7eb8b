import { hkdfSync, randomBytes } from 'node:crypto';
import { getServers } from 'node:dns';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import { createDefaultRegistry } from './agent/default-registry.js';
import type { ProviderRegistry } from './agent/registry.js';
import { createBridgeTransfer } from './call/bridge.js';
import { createCallMetrics } from './call/call-metrics.js';
import { CallManager, type CallRecorderFactory } from './call/call-manager.js';
import { RegistrationManager } from './call/registration-manager.js';
import { startCluster } from './cluster/index.js';
import { RevocationChannel } from './cluster/revocation.js';
import type { DrainController } from './cluster/drain.js';
import { createServerDrain, DrainingCallControl } from './cluster/server-drain.js';
import { PromptPlayer } from './call/prompt.js';
import { OutboundGuard } from './call/outbound-guard.js';
import { tenantRecordingsDir } from './agent/providers/replay/confine.js';
import { withConfinedReplay } from './replay/tenant-credentials.js';
import { CallRecorder } from './call/recorder.js';
import { rtpBindAddress } from './call/media-address.js';
import { RtpLegFactory } from './call/rtp-leg-factory.js';
import { silentDropGate } from './call/scanners.js';
import { CallAdmission, tenantCallLimit } from './call/admission.js';
import { InboundAuthenticator } from './call/inbound-auth.js';
import type { Config } from './config/config.js';
import { parseDnsServers } from './config/dns-servers.js';
import { SwitchboardError } from './errors.js';
import { registerAuthMetrics } from './http/auth-metrics.js';
import { Authenticator, resolveAdminToken } from './http/auth.js';
import { KeyCache } from './http/key-cache.js';
import type { CallControl, ProviderCatalog } from './http/ports.js';
import { ProviderUrlPolicy } from './http/provider-url-policy.js';
import { TokenBucketLimiter } from './token-bucket.js';
import { createHttpServer } from './http/server.js';
import { createCodec } from './media/codecs/index.js';
import { PortPool } from './media/rtp/port-pool.js';
import { Ticker } from './media/ticker.js';
import type { Logger } from './observability/logger.js';
import { counter, labelInstance } from './observability/metrics.js';
import { registerClockMetrics } from './observability/ticker-metrics.js';
import { callRecordWebhook, callWebhookSink, createOutbox, WebhookService } from './outcomes/webhooks.js';
import { DialplanStore, type LoadedDialplan } from './routing/dialplan-store.js';
import { route } from './routing/router.js';
import { DrachtioSignaling } from './sip/drachtio/index.js';
import { EmbeddedSignaling } from './sip/embedded/index.js';
import { createSipResolver } from './sip/embedded/resolver/index.js';
import type { Signaling } from './sip/signaling.js';
import { createTenantStore } from './tenants/index.js';
import { startCallOutcomes, type CallHistory } from './outcomes/index.js';
import { SIP_INBOUND_CREDENTIAL, SIP_INBOUND_INFO, sipInboundSchema } from './tenants/sip-inbound.js';
import { SIP_TRUNK_CREDENTIAL, SIP_TRUNK_INFO, sipTrunkSchema } from './tenants/sip-trunk.js';
import type { TenantStore } from './tenants/store.js';

/** Something main.ts started and must stop on shutdown, in reverse order of starting. */
export interface Service {
  readonly name: string;
  close(options?: CloseOptions): Promise<void>;
}

export interface CloseOptions {
  /**
   * Test hook for instance death (issue 12): leave the cluster without cleanup — heartbeat and call entries
   * stay in Redis until their TTL, as a killed process leaves them — then stop the rest as usual.
   */
  readonly abrupt?: boolean;
}

export interface Server {
  readonly calls: CallManager;
  readonly signaling: Signaling;
  readonly registry: ProviderRegistry;
  readonly store: TenantStore;
  /** Ended calls' CDRs and transcripts (issue 16). */
  readonly history: CallHistory;
  readonly dialplans: DialplanStore;
  /** The bound HTTP port (useful with HTTP_PORT=0). */
  readonly httpPort: number;
  /** The RTP port pool, read-only (leak checks: `inUse` is 0 once every call has ended). */
  readonly rtpPorts: { readonly inUse: number };
  /** Graceful drain (issue 12): SIGTERM and POST /v1/admin/drain start it; `done` says when to exit. */
  readonly drain: DrainController;
  close(options?: CloseOptions): Promise<void>;
}

export interface ServerDeps {
  config: Config;
  logger: Logger;
  metrics: Registry;
  /** Providers to use; defaults to the built-in registry. Tests add `replay` or mocks here. */
  registry?: ProviderRegistry;
  /** Redis key (and channel) prefix shared by the instances of one deployment; default `switchboard:`. */
  redisKeyPrefix?: string;
}

/** The default prompt shipped with the package, played when an agent cannot start. */
export const DEFAULT_UNAVAILABLE_PROMPT = fileURLToPath(
  new URL('../../prompts/unavailable.wav', import.meta.url),
);

function providerCatalog(registry: ProviderRegistry): ProviderCatalog {
  return {
    providers: () => [...registry.providers(), SIP_TRUNK_INFO, SIP_INBOUND_INFO],
    validateCredential(slug, raw) {
      const schema =
        slug === SIP_TRUNK_CREDENTIAL
          ? sipTrunkSchema
          : slug === SIP_INBOUND_CREDENTIAL
            ? sipInboundSchema
            : undefined;
      if (schema === undefined) return { ...registry.validateCredential(slug, raw) };
      const r = schema.safeParse(raw);
      if (r.success) return r.data;
      const field = r.error.issues[0]?.path[0];
      throw new SwitchboardError(
        'AGENT_CREDENTIAL_INVALID',
        `${slug} credential has an invalid "${String(field)}"`,
      );
    },
  };
}

/** The agent profile a recorded call was answered with (call.json keeps it so the call can be replayed). */
/** DNS_SERVERS, else the system resolvers (/etc/resolv.conf), else a local resolver on 127.0.0.1. */
function dnsServers(config: Config): readonly { address: string; port: number }[] {
  return (
    config.DNS_SERVERS ?? parseDnsServers(getServers().join(',')) ?? [{ address: '127.0.0.1', port: 53 }]
  );
}

function planFor(plans: readonly LoadedDialplan[], tenant: string, to: string): LoadedDialplan | undefined {
  const mine = plans.filter((d) => d.dialplan.tenant === tenant);
  const match =
    mine.find((d) => d.dialplan.numbers.includes(to)) ?? mine.find((d) => d.dialplan.numbers.includes('*'));
  return match ?? mine[0];
}

/**
 * The composition root: the only place that wires concrete classes together (DESIGN.md §1). Components are
 * started in order; if one fails, the ones already started are closed again.
 */
export async function startServer(deps: ServerDeps): Promise<Server> {
  const { config, metrics } = deps;
  const logger =
    config.INSTANCE_ID === undefined ? deps.logger : deps.logger.child({ instance: config.INSTANCE_ID });
  const services: Service[] = [];
  const closeAll = async (options?: CloseOptions): Promise<void> => {
    for (const s of services.reverse()) {
      try {
        await s.close(options);
      } catch (err) {
        logger.error({ err, service: s.name }, 'error while stopping service');
      }
    }
    services.length = 0;
  };

  try {
    // `replay` reads recordings from disk: only when asked for (issue 11).
    const registry = deps.registry ?? createDefaultRegistry({ replay: config.ENABLE_REPLAY_PROVIDER });
    const dialplans = new DialplanStore({
      dir: config.DIALPLANS_DIR,
      logger,
      // An unknown provider is a load error, not a failure of every call (issue 11).
      knownProvider: (slug) => registry.lookup(slug) !== undefined,
      // A turn setting the provider cannot honour is a load error too (issue 14).
      turnCapabilities: (slug) => registry.capabilities(slug)?.turn,
    });
    const problems = await dialplans.load();
    if (dialplans.all().length === 0)
      logger.warn({ dir: config.DIALPLANS_DIR, problems }, 'no dialplans loaded: every call gets 404');
    dialplans.watch();
    services.push({ name: 'dialplans', close: () => Promise.resolve(dialplans.close()) });

    const store = await createTenantStore(
      config,
      logger,
      [],
      deps.redisKeyPrefix === undefined ? {} : { redisKeyPrefix: deps.redisKeyPrefix },
    );
    services.push({ name: 'tenant-store', close: () => store.close() });

    // Issue 13: tenants' outbound registrations; created before signaling so routing can ask it.
    const registrationsRef: { current?: RegistrationManager } = {};
    const registeredContact = (user: string): ReturnType<RegistrationManager['contactRoute']> =>
      registrationsRef.current?.contactRoute(user);
    const signaling: Signaling =
      config.SIGNALING === 'drachtio'
        ? new DrachtioSignaling({
            host: config.DRACHTIO_HOST ?? '127.0.0.1',
            port: config.DRACHTIO_PORT,
            secret: config.DRACHTIO_SECRET ?? 'cymru',
            publicHost: config.SIP_PUBLIC_HOST,
            logger,
          })
        : new EmbeddedSignaling({
            host: config.SIP_HOST,
            port: config.SIP_PORT,
            transports: config.SIP_TRANSPORTS,
            publicHost: config.SIP_PUBLIC_HOST,
            logger,
            resolver: createSipResolver({ servers: dnsServers(config), logger }),
            failoverMs: config.SIP_FAILOVER_TIMEOUT_MS,
            sessionTimers: {
              minSeconds: config.SIP_SESSION_MIN_SE,
              defaultSeconds: config.SIP_SESSION_EXPIRES,
            },
            ...(config.SIP_TRANSPORTS.includes('tls')
              ? {
                  tls: {
                    port: config.SIP_TLS_PORT,
                    certFile: config.SIP_TLS_CERT ?? '',
                    keyFile: config.SIP_TLS_KEY ?? '',
                    ...(config.SIP_TLS_CA === undefined ? {} : { caFile: config.SIP_TLS_CA }),
                    verifyClient: config.SIP_TLS_VERIFY_CLIENT,
                    handshakeTimeoutMs: config.SIP_TLS_HANDSHAKE_TIMEOUT_MS,
                    reloadIntervalMs: config.SIP_TLS_RELOAD_MS,
                  },
                }
              : {}),
            tcpLimits: {
              maxPerSource: config.SIP_TCP_MAX_PER_SOURCE,
              maxConnections: config.SIP_TCP_MAX_CONNECTIONS,
              headerTimeoutMs: config.SIP_TCP_HEADER_TIMEOUT_MS,
              idleMs: config.SIP_TCP_IDLE_MS,
            },
            ...(config.SIP_SILENT_DROP === 'unrouted'
              ? {
                  inboundGate: silentDropGate(
                    (calledUser, sourceAddress) =>
                      registeredContact(calledUser) !== undefined ||
                      route(dialplans.all(), { calledUser, sourceAddress }).ok,
                  ),
                }
              : {}),
          });

    const ticker = new Ticker({
      onError: (err) => logger.error({ err }, 'media tick failed; leg removed from the clock'),
    });
    registerClockMetrics(metrics, ticker);
    const rtcpOn = config.RTCP === 'on';
    const pool = new PortPool({
      minPort: config.RTP_PORT_MIN,
      maxPort: config.RTP_PORT_MAX,
      logger,
      rtcp: rtcpOn,
    });
    const callMetrics = createCallMetrics(metrics);
    const prompts = new PromptPlayer();
    const recordingFailures = counter(
      metrics,
      'switchboard_recording_failures_total',
      'Recordings stopped by write errors',
    );
    // Issue 16: event webhooks; built once the instance id is known, before any call can end.
    const webhooksRef: {
      current?: WebhookService;
      callEnded?: ReturnType<typeof callRecordWebhook>;
    } = {};
    const recorder: CallRecorderFactory = {
      open: (info) => {
        const frameSamples = info.media.codec.frameSamples(info.media.ptimeMs);
        const callerCodec = createCodec(info.media.codec.name, info.media.codec.payloadType);
        const agentCodec = createCodec(info.media.codec.name, info.media.codec.payloadType);
        const rec = new CallRecorder({
          // RECORDINGS_DIR/<tenant>/<callId>/: a tenant's replays may read only its own folder.
          dir: tenantRecordingsDir(config.RECORDINGS_DIR, info.tenant),
          meta: { ...info, profile: planFor(dialplans.all(), info.tenant, info.to)?.dialplan.agent },
          sampleRateHz: info.media.codec.sampleRateHz,
          frameSamples,
          decodeCaller: (p, out) => callerCodec.decode(p, out),
          decodeAgent: (p, out) => agentCodec.decode(p, out),
          logger: logger.child({ callId: info.callId, component: 'recorder' }),
          failures: recordingFailures,
        });
        const onTick = (caller: Buffer | undefined, sent: Buffer | undefined): void =>
          rec.frame(caller, sent);
        info.media.on('tick', onTick);
        return {
          event: (kind, data) => rec.event(kind, data),
          close: async (reason) => {
            info.media.off('tick', onTick);
            await rec.close(reason, undefined, info.media.stats().rtcp);
            callerCodec.close?.();
            agentCodec.close?.();
            webhooksRef.current?.publisher.publish(info.tenant, 'recording.ready', {
              call_id: info.callId,
              tenant: info.tenant,
              files: ['call.json', 'audio.wav', 'events.jsonl'],
            });
          },
        };
      },
    };
    // Issue 16: every call leaves a CDR and a transcript in the call history (retention pruned hourly).
    const outcomes = await startCallOutcomes(config, logger, {
      keyPrefix: deps.redisKeyPrefix ?? config.REDIS_KEY_PREFIX ?? 'switchboard:',
      recordingDir: (tenant, id) => join(tenantRecordingsDir(config.RECORDINGS_DIR, tenant), id),
      route: (tenant, to) => planFor(dialplans.all(), tenant, to)?.file ?? null,
      // An answered call's call.ended webhook carries this record (CDR + transcript).
      onRecord: (record) => webhooksRef.callEnded?.(record),
    });
    services.push({ name: 'call-history', close: () => outcomes.close() });
    const { history, observer } = outcomes;
    // Unique per server, even for several servers in one process (tests).
    const instanceId = `${config.INSTANCE_ID ?? hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    // Issue 12: every metric series names its instance.
    labelInstance(metrics, instanceId);
    // SDP advertises SIP_MEDIA_HOST (else SIP_PUBLIC_HOST); RTP leaves from that address when it is ours.
    const mediaHost = config.SIP_MEDIA_HOST ?? config.SIP_PUBLIC_HOST;
    const legs = new RtpLegFactory({
      pool,
      host: rtpBindAddress(mediaHost, config.SIP_HOST),
      ticker,
      logger,
      playoutOverflow: counter(
        metrics,
        'switchboard_playout_overflow_frames_total',
        'Agent audio frames dropped because a call had the maximum queued ahead of playout',
      ),
      ...(rtcpOn ? { rtcp: { intervalMs: config.RTCP_INTERVAL_MS } } : {}),
    });
    const admissionRefused = counter(
      metrics,
      'switchboard_sip_admission_refused_total',
      'Initial INVITEs refused at admission (rate, unrouted, scanner, max-calls, tenant-calls)',
      ['cause'],
    );
    const admission = new CallAdmission({
      inviteRatePerS: config.SIP_INVITE_RATE,
      inviteBurst: config.SIP_INVITE_BURST,
      maxCalls: config.SIP_MAX_CALLS,
      tenantLimit: (tenant) => tenantCallLimit(dialplans.all(), tenant),
      // Only asked once an INVITE arrives, after `calls` exists.
      liveCalls: (): Iterable<{ readonly tenant: string }> => calls.liveCalls(),
      onRefused: (refusal) => admissionRefused.inc({ cause: refusal.cause }),
      // `drain` exists before signaling starts, so before any INVITE asks.
      draining: () => drain.refusing,
    });
    const webhookResults = counter(
      metrics,
      'switchboard_webhook_attempts_total',
      'Event webhook delivery attempts by result (delivered, retry, failed)',
      ['result'],
    );
    const webhooks = new WebhookService({
      store,
      outbox: createOutbox({
        redisUrl: config.REDIS_URL,
        dataDir: config.DATA_DIR,
        keyPrefix: deps.redisKeyPrefix ?? 'switchboard:',
        instanceId,
        logger,
      }),
      logger,
      allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
      onResult: (result) => webhookResults.inc({ result }),
    });
    webhooksRef.current = webhooks;
    webhooksRef.callEnded = callRecordWebhook(webhooks.publisher);
    services.push({ name: 'webhooks', close: () => webhooks.close() });
    const resumedDeliveries = await webhooks.start();
    if (resumedDeliveries > 0) logger.info({ deliveries: resumedDeliveries }, 'webhook deliveries resumed');
    // Digest nonces (dialplan `auth`) are HMAC-signed: with MASTER_KEY every instance derives the same key and
    // accepts the others' nonces; without it (one instance) a random key per process does.
    const nonceSecret =
      config.MASTER_KEY === undefined
        ? randomBytes(32)
        : Buffer.from(
            hkdfSync(
              'sha256',
              Buffer.from(config.MASTER_KEY, 'base64'),
              '',
              'switchboard sip digest nonce',
              32,
            ),
          );
    const calls: CallManager = new CallManager({
      admission,
      registeredContact,
      inboundAuth: new InboundAuthenticator({ secret: nonceSecret, store }),
      signaling,
      dialplans: () => dialplans.all(),
      store: withConfinedReplay(store, config.RECORDINGS_DIR),
      agents: registry,
      media: legs,
      bridge: createBridgeTransfer({ signaling, media: legs, publicHost: mediaHost, logger }),
      // Used for the SDP c=/o= lines of calls (inbound answers and outbound offers).
      publicHost: mediaHost,
      logger,
      metrics: callMetrics,
      instanceId,
      playPrompt: (media, path) => prompts.play(media, path),
      promptFrames: (media, path) => prompts.frames(path, media.codec, media.ptimeMs),
      defaultUnavailablePrompt: DEFAULT_UNAVAILABLE_PROMPT,
      recorder,
      observer,
      events: callWebhookSink(webhooks.publisher),
    });
    const instanceRecord: { setStatus?: (status: 'serving' | 'draining') => void } = {};
    const drain = createServerDrain({
      timeoutS: config.DRAIN_TIMEOUT_S,
      retryAfterS: 5, // admission's Retry-After
      signaling,
      liveCalls: () => calls.liveCalls(),
      pendingCalls: () => admission.pendingCount,
      instanceStatus: (status) => instanceRecord.setStatus?.(status),
      logger,
    });
    await signaling.start();
    services.push({ name: 'signaling', close: () => signaling.close() });
    services.push({ name: 'calls', close: () => calls.close() });
    const registrations = new RegistrationManager({
      signaling,
      store,
      logger,
      metrics,
      transports: config.SIP_TRANSPORTS,
      keepAliveS: config.SIP_REGISTER_KEEPALIVE_S,
    });
    registrationsRef.current = registrations;
    // Stopped before signaling (services close in reverse): the Expires: 0 still has a socket to go out on.
    services.push({ name: 'registrations', close: () => registrations.close() });
    const resumed = await registrations.resume();
    if (resumed > 0) logger.info({ registrations: resumed }, 'registrations resumed');

    // Several instances: publish live calls to Redis and relay control of calls owned elsewhere.
    let callControl: CallControl = calls;
    if (config.REDIS_URL !== undefined) {
      const cluster = await startCluster({
        url: config.REDIS_URL,
        ...(deps.redisKeyPrefix === undefined ? {} : { keyPrefix: deps.redisKeyPrefix }),
        instanceId,
        local: calls,
        logger,
        metrics,
        heartbeatMs: config.CLUSTER_HEARTBEAT_MS,
        instanceTtlMs: config.CLUSTER_INSTANCE_TTL_MS,
        lostRetentionMs: config.CLUSTER_LOST_RETENTION_MS,
        relayTimeoutMs: config.CLUSTER_RELAY_TIMEOUT_MS,
      });
      services.push({
        name: 'cluster',
        close: async (options) => (options?.abrupt === true ? cluster.crash() : cluster.close()),
      });
      callControl = cluster.calls;
      instanceRecord.setStatus = (status) => void cluster.setStatus(status);
    }
    // Issue 11: every API dial passes the outbound policy (to/from grammar, admin-only URIs, outbound.allow,
    // per-tenant rate and concurrency over every instance's live calls).
    callControl = new OutboundGuard({
      inner: callControl,
      dialplans: () => dialplans.all(),
      publicHost: config.SIP_PUBLIC_HOST,
      logger,
    });
    // Issue 12: a draining instance places no new calls either.
    callControl = new DrainingCallControl(callControl, drain, 5);

    const adminToken = await resolveAdminToken(
      { adminToken: config.ADMIN_TOKEN, dataDir: config.DATA_DIR },
      logger,
    );
    // Key revocation reaches every instance at once over Redis pub/sub (issue 11).
    const revocations =
      config.REDIS_URL === undefined
        ? undefined
        : new RevocationChannel({
            url: config.REDIS_URL,
            keyPrefix: deps.redisKeyPrefix ?? 'switchboard:',
            logger,
          });
    if (revocations !== undefined) services.push({ name: 'revocations', close: () => revocations.close() });
    const auth = new Authenticator(adminToken, store, {
      metricsToken: config.METRICS_TOKEN,
      cache: new KeyCache({ positiveTtlMs: config.API_KEY_CACHE_TTL_MS }),
      limiter: new TokenBucketLimiter({
        ratePerS: config.API_TENANT_RATE_PER_S,
        burst: config.API_TENANT_BURST,
      }),
      ...(revocations === undefined ? {} : { revocations }),
    });
    revocations?.start((tenant, id) => auth.forget(tenant, id));
    registerAuthMetrics(metrics, auth);
    const http = createHttpServer({
      metrics,
      logger,
      readiness: {
        signaling: () => signaling.connected,
        store: () => store.ping(),
        serving: () => !drain.refusing,
      },
      api: {
        auth,
        store,
        catalog: providerCatalog(registry),
        calls: callControl,
        history,
        liveTranscript: (id) => observer.liveTranscript(id),
        knownTenants: () => dialplans.all().map((d) => d.dialplan.tenant),
        providerUrls: new ProviderUrlPolicy({ allow: config.PROVIDER_URL_ALLOW }),
        drain,
        registrations,
        webhooks,
        dialplans: {
          loaded: () =>
            dialplans.all().map((d) => ({
              file: d.file,
              tenant: d.dialplan.tenant,
              numbers: d.dialplan.numbers,
              provider: d.dialplan.agent.provider,
            })),
          rejected: () => dialplans.rejected(),
        },
      },
    });
    await http.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
    services.push({ name: 'http', close: () => http.close() });
    const address = http.server.address();
    const httpPort = typeof address === 'object' && address !== null ? address.port : config.HTTP_PORT;

    logger.info(
      {
        sip: {
          host: config.SIP_HOST,
          port: config.SIP_PORT,
          transports: config.SIP_TRANSPORTS,
          signaling: config.SIGNALING,
        },
        publicHost: config.SIP_PUBLIC_HOST,
        rtpPorts: [config.RTP_PORT_MIN, config.RTP_PORT_MAX],
        http: { host: config.HTTP_HOST, port: httpPort },
        tenants: dialplans.all().map((d) => d.dialplan.tenant),
        store: store.kind,
      },
      'switchboard listening',
    );
    return {
      calls,
      signaling,
      registry,
      store,
      history,
      dialplans,
      httpPort,
      rtpPorts: pool,
      drain,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
