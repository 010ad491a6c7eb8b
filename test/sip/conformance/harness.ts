/**
 * Backend selection for the conformance suite: the same scenarios run against whichever Signaling backend is
 * chosen. `SIGNALING=drachtio` (or `DRACHTIO_HOST` set) → DrachtioSignaling against a real drachtio-server;
 * otherwise the embedded backend. A backend that cannot be loaded makes the suite skip with the reason.
 *
 * Environment for drachtio: DRACHTIO_HOST, DRACHTIO_PORT (9022), DRACHTIO_SECRET (cymru), and where
 * drachtio-server takes SIP: DRACHTIO_SIP_HOST (DRACHTIO_HOST), DRACHTIO_SIP_PORT (5060).
 */
import { pino, type Logger } from 'pino';
import type { Signaling, SipTransport } from '../../../src/sip/signaling.js';

export interface BackendUnderTest {
  readonly name: 'embedded' | 'drachtio';
  readonly signaling: Signaling;
  /** Where sipp/baresip send SIP. */
  readonly sipHost: string;
  readonly sipPort: number;
  /** Address the test app binds RTP to and writes into SDP. */
  readonly mediaHost: string;
  readonly transports: readonly SipTransport[];
  stop(): Promise<void>;
}

export type BackendFactory =
  | { readonly available: true; readonly name: 'embedded' | 'drachtio'; create(): Promise<BackendUnderTest> }
  | { readonly available: false; readonly name: 'embedded' | 'drachtio'; readonly reason: string };

/** The server side of every scenario listens on 127.0.0.1; peers use 127.0.0.2, .3, … (sip.md §4 caveat 1). */
export const SERVER_HOST = '127.0.0.1';

interface EmbeddedModule {
  EmbeddedSignaling: new (options: {
    host: string;
    port: number;
    transports: SipTransport[];
    publicHost: string;
    logger: Logger;
  }) => Signaling & { readonly port: number };
}

function testLogger(): Logger {
  // CONFORMANCE_LOG=debug shows the backend's logs when a scenario fails.
  return pino({ level: process.env.CONFORMANCE_LOG ?? 'silent' });
}

async function embeddedFactory(): Promise<BackendFactory> {
  // A variable specifier: the suite must load (and skip) while src/sip/embedded/ does not exist yet.
  const specifier = '../../../src/sip/embedded/index.js';
  let mod: EmbeddedModule;
  try {
    mod = (await import(/* @vite-ignore */ specifier)) as EmbeddedModule;
    if (typeof mod.EmbeddedSignaling !== 'function') throw new Error('no EmbeddedSignaling export');
  } catch (err) {
    return {
      available: false,
      name: 'embedded',
      reason: `embedded SIP backend not available (${specifier}): ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  return {
    available: true,
    name: 'embedded',
    create: async () => {
      const signaling = new mod.EmbeddedSignaling({
        host: SERVER_HOST,
        port: 0,
        transports: ['udp', 'tcp'],
        publicHost: SERVER_HOST,
        logger: testLogger(),
      });
      await signaling.start();
      return {
        name: 'embedded',
        signaling,
        sipHost: SERVER_HOST,
        sipPort: signaling.port,
        mediaHost: SERVER_HOST,
        transports: ['udp', 'tcp'],
        stop: () => signaling.close(),
      };
    },
  };
}

async function drachtioFactory(): Promise<BackendFactory> {
  const host = process.env.DRACHTIO_HOST ?? '127.0.0.1';
  const { DrachtioSignaling } = await import('../../../src/sip/drachtio/index.js');
  return {
    available: true,
    name: 'drachtio',
    create: async () => {
      const signaling = new DrachtioSignaling({
        host,
        port: Number(process.env.DRACHTIO_PORT ?? 9022),
        secret: process.env.DRACHTIO_SECRET ?? 'cymru',
        publicHost: process.env.DRACHTIO_SIP_HOST ?? host,
        logger: testLogger(),
        connectTimeoutMs: 5_000,
      });
      await signaling.start();
      return {
        name: 'drachtio',
        signaling,
        sipHost: process.env.DRACHTIO_SIP_HOST ?? host,
        sipPort: Number(process.env.DRACHTIO_SIP_PORT ?? 5060),
        mediaHost: process.env.CONFORMANCE_MEDIA_HOST ?? SERVER_HOST,
        transports: ['udp', 'tcp'],
        stop: () => signaling.close(),
      };
    },
  };
}

/** Pick the backend from the environment. */
export async function selectBackend(): Promise<BackendFactory> {
  const wanted = process.env.SIGNALING ?? (process.env.DRACHTIO_HOST ? 'drachtio' : 'embedded');
  if (wanted === 'drachtio') return await drachtioFactory();
  if (wanted === 'embedded') return await embeddedFactory();
  return { available: false, name: 'embedded', reason: `unknown SIGNALING=${wanted}` };
}

/** Resolve when `check` stops throwing, or throw its last error after `timeoutMs`. */
export async function eventually(check: () => void, timeoutMs = 5000, stepMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, stepMs));
    }
  }
}
