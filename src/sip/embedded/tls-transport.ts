/**
 * SIP over TLS (RFC 3261 §26.2, RFC 5630): the certificate material, the TLS listener and the options for
 * outbound TLS connections. The stream handling after the handshake is the TCP code's (transport.ts), so the
 * connection limits of conn-limits.ts apply unchanged; admission is decided on the raw TCP connection, before
 * any handshake work, and a handshake must finish within `handshakeTimeoutMs`.
 *
 * Certificates are PEM files, polled every `reloadIntervalMs`: changed files are loaded into a new secure
 * context that the listener hands to new connections (`server.setSecureContext`); connections in progress keep
 * theirs. Files that do not load (a half-written copy, a key that does not match) change nothing and are
 * reported once.
 */
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { SwitchboardError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { Flow } from './flow.js';

/**
 * Client certificates on inbound TLS: `none` never asks; `optional` asks and refuses one that does not chain
 * to SIP_TLS_CA (a client without one is served); `require` refuses clients without a trusted certificate.
 */
export type TlsClientVerification = 'none' | 'optional' | 'require';

export interface TlsSettings {
  /** TLS listening port (0 = ephemeral). */
  readonly port: number;
  readonly certFile: string;
  readonly keyFile: string;
  /** CA bundle trusted for client certificates and, besides the system roots, for servers we connect to. */
  readonly caFile?: string;
  readonly verifyClient: TlsClientVerification;
  /** A TLS handshake must complete this long after the TCP connection was accepted (default 5 s). */
  readonly handshakeTimeoutMs: number;
  /** How often the PEM files are checked for changes (default 5 s). */
  readonly reloadIntervalMs: number;
}

export class TlsConfigError extends SwitchboardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SIP_TLS_CONFIG', message, options);
  }
}

interface Material {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

function readMaterial(settings: TlsSettings): Material {
  const read = (variable: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new TlsConfigError(`${variable}: cannot read ${file}`, { cause: err });
    }
  };
  return {
    cert: read('SIP_TLS_CERT', settings.certFile),
    key: read('SIP_TLS_KEY', settings.keyFile),
    ca: settings.caFile === undefined ? undefined : read('SIP_TLS_CA', settings.caFile),
  };
}

function sameMaterial(a: Material, b: Material): boolean {
  return (
    a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca ?? Buffer.alloc(0)).equals(b.ca ?? Buffer.alloc(0))
  );
}

/** The certificate, key and CA files, loaded and checked; `watch` follows later changes. */
export class TlsCredentials {
  private material: Material;
  private rejected: Material | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly settings: TlsSettings,
    private readonly logger: Logger,
  ) {
    this.material = readMaterial(settings);
    // Fail at start with the variable's name rather than on the first handshake.
    this.check(this.material);
  }

  private check(material: Material): void {
    try {
      tls.createSecureContext(this.contextOptions(material));
    } catch (err) {
      const what = err instanceof Error ? err.message : String(err);
      throw new TlsConfigError(`SIP_TLS_CERT/SIP_TLS_KEY: cannot use the certificate (${what})`, {
        cause: err,
      });
    }
  }

  private contextOptions(material: Material): tls.SecureContextOptions {
    return {
      cert: material.cert,
      key: material.key,
      ...(material.ca === undefined ? {} : { ca: material.ca }),
    };
  }

  /** Options of the listener: our certificate and, for client certificates, SIP_TLS_CA. */
  serverOptions(): tls.TlsOptions {
    const verify = this.settings.verifyClient;
    return {
      ...this.contextOptions(this.material),
      requestCert: verify !== 'none',
      // `optional` is decided after the handshake (a client that sends no certificate is served).
      rejectUnauthorized: verify === 'require',
      handshakeTimeout: this.settings.handshakeTimeoutMs,
    };
  }

  /**
   * Options for an outbound TLS connection: SNI for host names (RFC 6066 §3 forbids IP literals), the server's
   * certificate checked against the system roots plus SIP_TLS_CA unless the flow opts out, and our certificate
   * for servers that ask for one (mutual TLS with a trunk).
   */
  clientOptions(flow: Flow, host: string): tls.ConnectionOptions {
    const name = flow.serverName ?? host;
    return {
      host,
      port: flow.port,
      ...(isIP(name) === 0 ? { servername: name } : {}),
      ...(this.material.ca === undefined
        ? {}
        : { ca: [...tls.rootCertificates, this.material.ca.toString('utf8')] }),
      rejectUnauthorized: flow.tlsVerify !== false,
      // Identity is checked against the name we meant to reach, not the address it resolved to.
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
      cert: this.material.cert,
      key: this.material.key,
    };
  }

  /**
   * Poll the files; on a change that loads, call `apply` with the new context options (new connections get
   * them). A change that does not load keeps the current material and is logged once.
   */
  watch(apply: (options: tls.SecureContextOptions) => void): void {
    this.timer = setInterval(() => this.poll(apply), this.settings.reloadIntervalMs);
    this.timer.unref();
  }

  private poll(apply: (options: tls.SecureContextOptions) => void): void {
    let next: Material;
    try {
      next = readMaterial(this.settings);
    } catch (err) {
      this.logger.warn({ err }, 'sip tls certificate files unreadable; keeping the current certificate');
      return;
    }
    if (sameMaterial(next, this.material)) return;
    if (this.rejected !== undefined && sameMaterial(next, this.rejected)) return;
    try {
      this.check(next);
    } catch (err) {
      // Warn once until a change loads again (a copy in progress may be seen in several states).
      const level = this.rejected === undefined ? 'warn' : 'debug';
      this.rejected = next;
      this.logger[level]({ err }, 'sip tls certificate change rejected; keeping the current certificate');
      return;
    }
    this.material = next;
    this.rejected = undefined;
    apply(this.contextOptions(next));
    this.logger.info('sip tls certificate reloaded');
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

export interface TlsListenerHooks {
  /** A raw TCP connection arrived: true admits it (counted by the limiter), false has it closed at once. */
  readonly admit: (raw: net.Socket) => boolean;
  /** The handshake completed (and, under `optional`, any certificate presented was trusted). */
  readonly secure: (socket: tls.TLSSocket) => void;
  readonly handshakeFailed: (timedOut: boolean) => void;
}

/** The TLS listener; not yet listening. */
export function createTlsListener(
  credentials: TlsCredentials,
  hooks: TlsListenerHooks,
  logger: Logger,
): tls.Server {
  const server = tls.createServer(credentials.serverOptions(), (socket) => {
    const presented = Object.keys(socket.getPeerCertificate()).length > 0;
    if (credentials.settings.verifyClient === 'optional' && presented && !socket.authorized) {
      hooks.handshakeFailed(false);
      logger.debug({ reason: socket.authorizationError }, 'sip tls client certificate refused');
      socket.destroy();
      return;
    }
    hooks.secure(socket);
  });
  // Runs after the TLS wrapper was attached: destroying the raw socket ends the handshake before it starts.
  server.on('connection', (raw: net.Socket) => {
    if (!hooks.admit(raw)) {
      raw.on('error', () => undefined);
      raw.destroy();
    }
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
    hooks.handshakeFailed(err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT');
    logger.debug({ code: err.code }, 'sip tls handshake failed');
    socket.destroy();
  });
  credentials.watch((options) => server.setSecureContext(options));
  return server;
}
