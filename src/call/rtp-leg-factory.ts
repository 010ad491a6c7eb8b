/**
 * The production MediaLegFactory: an RTP port from the pool before the SDP answer, then an {@link RtpLeg} on
 * the shared ticker once the offer/answer is done.
 */
import type { Logger } from '../observability/logger.js';
import type { PortPool } from '../media/rtp/port-pool.js';
import { RtpSocket } from '../media/rtp/socket.js';
import type { Ticker } from '../media/ticker.js';
import type { MediaLegFactory, PendingMediaLeg } from './call-manager.js';
import type { LegRtcpOptions } from './leg-rtcp.js';
import type { OverflowCounter } from './media-leg.js';
import { RtpLeg } from './rtp-leg.js';

/** Allocates RTP ports before the SDP answer and starts legs on the shared ticker. */
export class RtpLegFactory implements MediaLegFactory {
  readonly #pool: PortPool;
  readonly #host: string;
  readonly #ticker: Ticker;
  readonly #logger: Logger;
  readonly #inactivityTimeoutMs: number;
  readonly #playoutOverflow: OverflowCounter | undefined;
  readonly #rtcp: LegRtcpOptions | undefined;

  constructor(options: {
    pool: PortPool;
    /** Local address RTP binds to: the advertised media address when it is ours (see media-address.ts). */
    host: string;
    ticker: Ticker;
    logger: Logger;
    inactivityTimeoutMs?: number;
    playoutOverflow?: OverflowCounter;
    /** RTCP on every leg (the pool must pair port + 1, PortPoolOptions.rtcp); absent: no RTCP. */
    rtcp?: LegRtcpOptions;
  }) {
    this.#pool = options.pool;
    this.#host = options.host;
    this.#ticker = options.ticker;
    this.#logger = options.logger;
    this.#inactivityTimeoutMs = options.inactivityTimeoutMs ?? 30_000;
    this.#playoutOverflow = options.playoutOverflow;
    this.#rtcp = options.rtcp;
  }

  /**
   * `signalingAddress`: the source address of the call's INVITE (IncomingCall.source.address), the media
   * source RTP latching prefers (issue 11: an attacker elsewhere cannot take the call over).
   */
  async allocate(options: { readonly signalingAddress?: string } = {}): Promise<PendingMediaLeg> {
    const socket = await RtpSocket.open({
      pool: this.#pool,
      host: this.#host,
      inactivityTimeoutMs: this.#inactivityTimeoutMs,
      logger: this.#logger,
      ...(options.signalingAddress === undefined ? {} : { signalingAddress: options.signalingAddress }),
    });
    let started = false;
    return {
      localPort: socket.port,
      start: (media) => {
        // A leg that cannot start (a bug, an unusable negotiated format) must not keep its port: the 200 is
        // already out, so the caller hangs up and nothing may stay bound (issue 10).
        try {
          const leg = new RtpLeg({
            socket,
            media,
            ticker: this.#ticker,
            logger: this.#logger,
            ...(this.#playoutOverflow === undefined ? {} : { playoutOverflow: this.#playoutOverflow }),
            ...(this.#rtcp === undefined ? {} : { rtcp: this.#rtcp }),
          });
          started = true;
          return leg;
        } catch (err) {
          socket.close();
          throw err;
        }
      },
      release: () => {
        if (!started) socket.close();
      },
    };
  }
}
