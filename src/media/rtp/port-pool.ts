/**
 * Hands out RTP ports from a configured range, bound and ready.
 *
 * RFC 3550 §11: RTP uses an even port and RTCP the next odd one. We only allocate even ports and never hand
 * out the odd one, so a peer that sends RTCP to port+1 does not hit another call's RTP. With `rtcp` on, a
 * lease binds both: an even port whose odd partner is busy (another process) is skipped like a busy one, so
 * a call always gets the pair (rtcp-mux peers send RTCP to the RTP port instead, RFC 5761).
 *
 * Ports are drawn at random (node:crypto randomInt) from the free ones. Handing them out in order let an
 * attacker predict the next call's port and spray RTP at it before the caller's first packet (issue 11;
 * RFC 3550 §9.1 and RFC 3711 §9.1 assume an off-path attacker cannot guess the transport). A released port
 * first waits in a short FIFO quarantine before it is drawn again, so late packets of the old call do not
 * land in a new call's media; when nothing else is free the quarantine is drawn from too.
 */
import { randomInt } from 'node:crypto';
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
  /** Also bind port + 1 for RTCP (RFC 3550 §11) with every lease. Default false. */
  readonly rtcp?: boolean;
}

/** A bound RTP port. `release()` closes the socket(s) and returns the port; it is idempotent. */
export interface PortLease {
  readonly port: number;
  readonly socket: Socket;
  /** Bound to port + 1 when the pool pairs RTCP. */
  readonly rtcpSocket?: Socket;
  release(): void;
}

const FREE = 0;
const IN_USE = 1;
const QUARANTINED = 2;
/** Released ports held back from the draw, at most this share of the range (and at most 64). */
const QUARANTINE_SHARE = 4;
const QUARANTINE_MAX = 64;

/** bind() errors that mean "this port is taken on this host, try the next one". */
const SKIPPABLE = new Set(['EADDRINUSE', 'EACCES']);

export class PortPool {
  readonly minPort: number;
  readonly maxPort: number;
  readonly #state: Uint8Array;
  readonly #factory: UdpSocketFactory;
  readonly #logger: Logger | undefined;
  readonly #rtcp: boolean;
  /** Free slots, unordered: free[0, freeCount) are drawable; a draw swaps the chosen one to the end. */
  readonly #free: Int32Array;
  #freeCount: number;
  /** Recently released slots, oldest first (a ring). */
  readonly #quarantine: Int32Array;
  readonly #quarantineCap: number;
  #qHead = 0;
  #qCount = 0;
  #inUse = 0;

  constructor(options: PortPoolOptions) {
    const min = options.minPort + (options.minPort % 2);
    if (!Number.isInteger(min) || min < 2 || options.maxPort > 65535 || options.maxPort < min + 1) {
      throw new RangeError(`invalid RTP port range ${options.minPort}-${options.maxPort}`);
    }
    this.minPort = min;
    this.maxPort = options.maxPort;
    const n = Math.floor((options.maxPort - 1 - min) / 2) + 1;
    this.#state = new Uint8Array(n);
    this.#free = new Int32Array(n);
    for (let i = 0; i < n; i++) this.#free[i] = i;
    this.#freeCount = n;
    this.#quarantineCap = Math.min(QUARANTINE_MAX, Math.floor(n / QUARANTINE_SHARE));
    this.#quarantine = new Int32Array(Math.max(1, this.#quarantineCap));
    this.#factory = options.socketFactory ?? literalAddressSocket;
    this.#logger = options.logger;
    this.#rtcp = options.rtcp ?? false;
  }

  /** Number of RTP ports (even ports) in the range. */
  get size(): number {
    return this.#state.length;
  }

  /**
   * Ports currently leased (bound sockets this pool handed out and that were not released yet). Leak tests
   * read it: after every call has ended it must be 0.
   */
  get inUse(): number {
    return this.#inUse;
  }

  /** Same as {@link inUse}: the number of leased ports, under the name the leak tests use. */
  get leased(): number {
    return this.#inUse;
  }

  /** Ports not leased (some may still be held by other processes; allocate() skips those). */
  get available(): number {
    return this.#state.length - this.#inUse;
  }

  /**
   * Binds a free even port drawn at random on `host` and leases it. A port another process holds is skipped
   * (it stays in the pool and may be drawn by a later call). Throws SwitchboardError 'MEDIA_PORTS_EXHAUSTED'
   * when every free port failed to bind or none is free; other bind errors (a bad host) are rethrown.
   */
  async allocate(host: string): Promise<PortLease> {
    const type: SocketType = isIPv6(host) ? 'udp6' : 'udp4';
    // Slots that failed with "busy" in this call: out of the draw until we return.
    const busy: number[] = [];
    try {
      for (;;) {
        const slot = this.#draw();
        if (slot < 0) break;
        // Claimed before the await so a concurrent allocate() cannot draw the same slot.
        this.#state[slot] = IN_USE;
        this.#inUse++;
        const port = this.minPort + slot * 2;
        const socket = this.#factory(type);
        let rtcpSocket: Socket | undefined;
        try {
          await bindSocket(socket, port, host);
          if (this.#rtcp) {
            rtcpSocket = this.#factory(type);
            await bindSocket(rtcpSocket, port + 1, host);
          }
        } catch (err) {
          this.#inUse--;
          closeQuietly(socket);
          if (rtcpSocket !== undefined) closeQuietly(rtcpSocket);
          const code = (err as NodeJS.ErrnoException).code ?? '';
          if (SKIPPABLE.has(code)) {
            this.#logger?.debug({ port, code }, 'rtp port busy, skipping');
            busy.push(slot);
            continue;
          }
          this.#putFree(slot);
          throw err;
        }
        return this.#lease(slot, port, socket, rtcpSocket);
      }
    } finally {
      for (const slot of busy) this.#putFree(slot);
    }
    throw new SwitchboardError(
      'MEDIA_PORTS_EXHAUSTED',
      `no free RTP port in ${this.minPort}-${this.maxPort} (${this.#inUse} in use)`,
    );
  }

  /** Removes a random free slot from the draw (the quarantine refills it when empty); -1 when none. */
  #draw(): number {
    if (this.#freeCount === 0) {
      // Nothing else free: reuse quarantined ports, oldest first back into the draw.
      while (this.#qCount > 0) this.#putFree(this.#unquarantine());
      if (this.#freeCount === 0) return -1;
    }
    const i = randomInt(0, this.#freeCount);
    const last = this.#freeCount - 1;
    const slot = this.#free[i] ?? -1;
    this.#free[i] = this.#free[last] ?? slot;
    this.#free[last] = slot;
    this.#freeCount = last;
    return slot;
  }

  #putFree(slot: number): void {
    this.#state[slot] = FREE;
    this.#free[this.#freeCount++] = slot;
  }

  #release(slot: number): void {
    this.#inUse--;
    if (this.#quarantineCap === 0) {
      this.#putFree(slot);
      return;
    }
    if (this.#qCount === this.#quarantineCap) this.#putFree(this.#unquarantine());
    this.#state[slot] = QUARANTINED;
    this.#quarantine[(this.#qHead + this.#qCount) % this.#quarantineCap] = slot;
    this.#qCount++;
  }

  #unquarantine(): number {
    const slot = this.#quarantine[this.#qHead] ?? 0;
    this.#qHead = (this.#qHead + 1) % this.#quarantineCap;
    this.#qCount--;
    return slot;
  }

  #lease(slot: number, port: number, socket: Socket, rtcpSocket: Socket | undefined): PortLease {
    let released = false;
    const release = (): void => {
      // Idempotent per lease: a second release must not free the port after someone else got it.
      if (released) return;
      released = true;
      closeQuietly(socket);
      if (rtcpSocket !== undefined) closeQuietly(rtcpSocket);
      this.#release(slot);
    };
    return { port, socket, ...(rtcpSocket === undefined ? {} : { rtcpSocket }), release };
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
