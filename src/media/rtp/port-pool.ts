/**
 * Hands out RTP ports from a configured range, bound and ready.
 *
 * RFC 3550 §11: RTP uses an even port and RTCP the next odd one. We only allocate even ports and never hand
 * out the odd one, so a peer that sends RTCP to port+1 does not hit another call's RTP (we do not bind it:
 * RTCP is ignored, and rtcp-mux peers send it to the RTP port, RFC 5761).
 *
 * Ports are chosen round-robin from a cursor that keeps moving forward, so a port released by one call is
 * the last to be reused: late packets of the old call then do not land in a new call's media.
 */
import { createSocket, type Socket, type SocketType } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { SwitchboardError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';

/** Creates an unbound UDP socket; injected so tests can fake binding failures (STYLE.md §8). */
/**
 * RTP is always sent to an IP literal taken from SDP or a latched source, so skip dgram's DNS lookup: with it
 * every send waits a turn of the event loop, and all of a tick's packets leave only after every call ticked.
 */
function literalAddressSocket(type: SocketType): Socket {
  return createSocket({
    type,
    lookup: (address, _options, callback) => {
      callback(null, address, address.includes(':') ? 6 : 4);
    },
  });
}

export type UdpSocketFactory = (type: SocketType) => Socket;

export interface PortPoolOptions {
  /** Lowest port of the range (inclusive). Rounded up to even. */
  readonly minPort: number;
  /** Highest port of the range (inclusive). The last RTP port is the last even port whose RTCP partner
   * (port + 1) is still ≤ maxPort. */
  readonly maxPort: number;
  readonly socketFactory?: UdpSocketFactory;
  readonly logger?: Logger;
}

/** A bound RTP port. `release()` closes the socket and returns the port; it is idempotent. */
export interface PortLease {
  readonly port: number;
  readonly socket: Socket;
  release(): void;
}

const FREE = 0;
const IN_USE = 1;

/** bind() errors that mean "this port is taken on this host, try the next one". */
const SKIPPABLE = new Set(['EADDRINUSE', 'EACCES']);

export class PortPool {
  readonly minPort: number;
  readonly maxPort: number;
  readonly #state: Uint8Array;
  readonly #factory: UdpSocketFactory;
  readonly #logger: Logger | undefined;
  #cursor = 0;
  #inUse = 0;

  constructor(options: PortPoolOptions) {
    const min = options.minPort + (options.minPort % 2);
    if (!Number.isInteger(min) || min < 2 || options.maxPort > 65535 || options.maxPort < min + 1) {
      throw new RangeError(`invalid RTP port range ${options.minPort}-${options.maxPort}`);
    }
    this.minPort = min;
    this.maxPort = options.maxPort;
    this.#state = new Uint8Array(Math.floor((options.maxPort - 1 - min) / 2) + 1);
    this.#factory = options.socketFactory ?? literalAddressSocket;
    this.#logger = options.logger;
  }

  /** Number of RTP ports (even ports) in the range. */
  get size(): number {
    return this.#state.length;
  }

  /** Ports currently leased. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Ports not leased (some may still be held by other processes; allocate() skips those). */
  get available(): number {
    return this.#state.length - this.#inUse;
  }

  /**
   * Binds the next free even port on `host` and leases it. A port another process holds is skipped (it
   * stays in the pool and is tried again on a later round). Throws SwitchboardError 'MEDIA_PORTS_EXHAUSTED'
   * when every free port failed to bind or none is free; other bind errors (a bad host) are rethrown.
   */
  async allocate(host: string): Promise<PortLease> {
    const type: SocketType = isIPv6(host) ? 'udp6' : 'udp4';
    const n = this.#state.length;
    for (let tried = 0; tried < n; tried++) {
      const slot = this.#cursor;
      this.#cursor = (this.#cursor + 1) % n;
      if (this.#state[slot] !== FREE) continue;
      // Claim before the await so a concurrent allocate() cannot pick the same slot.
      this.#state[slot] = IN_USE;
      this.#inUse++;
      const port = this.minPort + slot * 2;
      const socket = this.#factory(type);
      try {
        await bindSocket(socket, port, host);
      } catch (err) {
        this.#state[slot] = FREE;
        this.#inUse--;
        closeQuietly(socket);
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (SKIPPABLE.has(code)) {
          this.#logger?.debug({ port, code }, 'rtp port busy, skipping');
          continue;
        }
        throw err;
      }
      return this.#lease(slot, port, socket);
    }
    throw new SwitchboardError(
      'MEDIA_PORTS_EXHAUSTED',
      `no free RTP port in ${this.minPort}-${this.maxPort} (${this.#inUse} in use)`,
    );
  }

  #lease(slot: number, port: number, socket: Socket): PortLease {
    let released = false;
    const release = (): void => {
      // Idempotent per lease: a second release must not free the port after someone else got it.
      if (released) return;
      released = true;
      closeQuietly(socket);
      this.#state[slot] = FREE;
      this.#inUse--;
    };
    return { port, socket, release };
  }
}

function bindSocket(socket: Socket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      socket.off('error', onError);
      resolve();
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    // exclusive: a cluster worker must not share a port with another call.
    socket.bind({ port, address: host, exclusive: true });
  });
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // Already closed (ERR_SOCKET_DGRAM_NOT_RUNNING): nothing to release.
  }
}
