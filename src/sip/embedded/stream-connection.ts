/**
 * The pieces of a stream (TCP or TLS) connection the transport layer keeps: its record, the map key under
 * which it is found for reuse, the counters, and opening an outbound connection.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../observability/logger.js';
import type { Flow } from './flow.js';
import type { StreamFramer } from './framing.js';
import { createTlsListener, type TlsCredentials, type TlsListenerHooks } from './tls-transport.js';

export interface TransportStats {
  received: number;
  parsed: number;
  unparseable: number;
  sent: number;
  sendErrors: number;
  tcpConnections: number;
  tcpOverflowClosed: number;
  /** Inbound connections refused because their source already held `maxPerSource`. */
  tcpRefusedPerSource: number;
  /** Inbound connections refused because the process held `maxConnections`. */
  tcpRefusedGlobal: number;
  /** Connections closed because a message did not complete within the header-read deadline. */
  tcpHeaderTimeoutClosed: number;
  /** Connections without a dialog closed after the idle timeout. */
  tcpIdleClosed: number;
  /** Requests the inbound gate dropped without an answer. */
  gateDropped: number;
  /** TLS handshakes that failed (bad or untrusted client certificate, protocol errors). */
  tlsHandshakeFailed: number;
  /** TLS connections closed because the handshake did not finish within its deadline. */
  tlsHandshakeTimeoutClosed: number;
}

/** One TCP or TLS connection, either way, and the clocks the reaper looks at. */
export interface StreamConnection {
  readonly id: number;
  readonly socket: net.Socket;
  readonly transport: 'tcp' | 'tls';
  readonly framer: StreamFramer;
  readonly address: string;
  readonly port: number;
  /** The last complete message either way (bytes alone are not activity: a drip must not keep it alive). */
  lastMessageMs: number;
  /** When the first byte of the message being read arrived. */
  partialSinceMs: number | undefined;
  ready: Promise<void>;
}

/** Connections are found for reuse by transport and remote address (TCP and TLS to one port never mix). */
export function remoteKey(transport: 'tcp' | 'tls', address: string, port: number): string {
  return `${transport}|${address}:${port}`;
}

export function emptyTransportStats(): TransportStats {
  return {
    received: 0,
    parsed: 0,
    unparseable: 0,
    sent: 0,
    sendErrors: 0,
    tcpConnections: 0,
    tcpOverflowClosed: 0,
    tcpRefusedPerSource: 0,
    tcpRefusedGlobal: 0,
    tcpHeaderTimeoutClosed: 0,
    tcpIdleClosed: 0,
    gateDropped: 0,
    tlsHandshakeFailed: 0,
    tlsHandshakeTimeoutClosed: 0,
  };
}

/**
 * Open an outbound TCP or TLS connection; `connected` settles when it is usable (for TLS: after the handshake
 * and the certificate checks of TlsCredentials.clientOptions).
 */
export function dialStream(
  target: Flow,
  host: string,
  credentials: TlsCredentials | undefined,
): { socket: net.Socket; connected: Promise<void> } {
  if (target.transport === 'tls' && credentials === undefined) throw new Error('tls transport not enabled');
  const secure = target.transport === 'tls' && credentials !== undefined;
  const socket = secure
    ? tls.connect(credentials.clientOptions(target, host))
    : net.connect({ host, port: target.port });
  const connected = new Promise<void>((resolve, reject) => {
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject);
      resolve();
    });
    socket.once('error', reject);
  });
  // The caller awaits it; a failure before then must not be an unhandled rejection.
  connected.catch(() => undefined);
  return { socket, connected };
}

/** Listen on `port` (0 = ephemeral); resolves with the bound port. Later server errors are logged. */
export async function listenOn(
  server: net.Server,
  port: number,
  host: string,
  logger: Logger,
): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.warn({ err }, 'sip stream listener error'));
  const address = server.address();
  return address !== null && typeof address === 'object' ? address.port : port;
}

/** The TLS listener on SIP_TLS_PORT, counting failed and timed-out handshakes into `stats`. */
export async function listenTls(
  credentials: TlsCredentials,
  host: string,
  stats: TransportStats,
  logger: Logger,
  hooks: Pick<TlsListenerHooks, 'admit' | 'secure'>,
): Promise<{ server: tls.Server; port: number }> {
  const server = createTlsListener(
    credentials,
    {
      ...hooks,
      handshakeFailed: (timedOut) => {
        if (timedOut) stats.tlsHandshakeTimeoutClosed++;
        else stats.tlsHandshakeFailed++;
      },
    },
    logger,
  );
  return { server, port: await listenOn(server, credentials.settings.port, host, logger) };
}
