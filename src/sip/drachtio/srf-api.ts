/**
 * The only file that loads drachtio-srf. It is CommonJS and its bundled declarations do not match its
 * runtime, so it is required untyped and viewed through our own {@link DrachtioApi}.
 */
import { createRequire } from 'node:module';
import type { DrachtioApi } from './api.js';

const require = createRequire(import.meta.url);

interface RawSrf extends DrachtioApi {
  /** Internals reached only to stop the reconnect loop (see disconnect below). */
  readonly _app?: {
    readonly client?: {
      readonly wp?: { closing?: boolean; reconnectVars?: { retryTimer?: NodeJS.Timeout | null } };
    };
  };
}

type SrfConstructor = new (tags?: readonly string[]) => RawSrf;

/** A real drachtio-srf application object behind our interface. */
export function createSrfApi(tags: readonly string[] = []): DrachtioApi {
  const Srf = require('drachtio-srf') as SrfConstructor;
  const srf = tags.length > 0 ? new Srf(tags) : new Srf();
  return {
    connect: (opts) => srf.connect(opts),
    disconnect: () => {
      try {
        srf.disconnect();
      } catch {
        // drachtio-srf 5.0.29 throws ("socket is not connected") when called while no admin connection is
        // up, i.e. during a reconnect backoff, and leaves the retry timer armed. Stop it ourselves.
        const wp = srf._app?.client?.wp;
        if (wp) {
          wp.closing = true;
          if (wp.reconnectVars?.retryTimer) clearTimeout(wp.reconnectVars.retryTimer);
        }
      }
    },
    on: (event, listener) => srf.on(event, listener),
    invite: (handler) => srf.invite(handler),
    options: (handler) => srf.options(handler),
    // drachtio-srf defines one method per SIP verb (lib/srf.js delegates each of sip-methods to the app).
    method: (name, handler) =>
      (srf as unknown as Record<string, (h: typeof handler) => void>)[name]?.(handler),
    createUAS: (req, res, opts) => srf.createUAS(req, res, opts),
    createUAC: (uri, opts, callbacks) => srf.createUAC(uri, opts, callbacks),
  };
}
