import type { Registry } from 'prom-client';
import type { Config } from './config/config.js';
import { createHttpServer } from './http/server.js';
import type { Logger } from './observability/logger.js';

/** Something main.ts started and must stop on shutdown, in reverse order of starting. */
export interface Service {
  readonly name: string;
  close(): Promise<void>;
}

export interface Server {
  close(): Promise<void>;
}

export interface ServerDeps {
  config: Config;
  logger: Logger;
  metrics: Registry;
}

/**
 * The composition root: the only place that wires concrete classes together (DESIGN.md §1).
 * Components are started in order; if one fails, the ones already started are closed again.
 */
export async function startServer(deps: ServerDeps): Promise<Server> {
  const { config, logger } = deps;
  const services: Service[] = [];
  const closeAll = async (): Promise<void> => {
    for (const s of services.reverse()) {
      try {
        await s.close();
      } catch (err) {
        logger.error({ err, service: s.name }, 'error while stopping service');
      }
    }
    services.length = 0;
  };

  try {
    // Signaling, media, agents and tenants attach here as they are built.
    const http = createHttpServer({ metrics: deps.metrics });
    await http.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
    services.push({ name: 'http', close: () => http.close() });
    logger.info(
      {
        sip: { host: config.SIP_HOST, port: config.SIP_PORT, transports: config.SIP_TRANSPORTS },
        publicHost: config.SIP_PUBLIC_HOST,
        rtpPorts: [config.RTP_PORT_MIN, config.RTP_PORT_MAX],
        signaling: config.SIGNALING,
        http: { host: config.HTTP_HOST, port: config.HTTP_PORT },
      },
      'switchboard listening',
    );
  } catch (err) {
    await closeAll();
    throw err;
  }
  return { close: closeAll };
}
