/**
 * A media leg's SRTP: builds the {@link SrtpSession} for the SDES keys the offer/answer settled, installs
 * it on the RTP socket (unprotect before parse and latching, protect before send) and as the RTCP session's
 * SRTCP transform, and re-keys it when a
 * re-offer brings new keys (RFC 4568 §7.1.4). Keys are never logged: only the suite is.
 */
import type { Logger } from '../observability/logger.js';
import type { RtcpSession } from '../media/rtp/rtcp-session.js';
import type { RtpSocket } from '../media/rtp/socket.js';
import { SrtpSession } from '../media/rtp/srtp/session.js';
import type { SdesKey, SdesKeying } from '../sip/sdp-crypto.js';
import type { MediaLegStats } from './media-leg.js';

function sameKey(a: SdesKey, b: SdesKey): boolean {
  return a.key.equals(b.key) && a.salt.equals(b.salt);
}

export class LegSrtp {
  readonly #socket: RtpSocket;
  readonly #log: Logger;
  #session: SrtpSession | undefined;
  #keying: SdesKeying | undefined;
  #rtcp: RtcpSession | undefined;

  constructor(socket: RtpSocket, log: Logger) {
    this.#socket = socket;
    this.#log = log;
  }

  /**
   * Keys in effect after an offer/answer. Undefined on an SRTP call changes nothing: a call never drops
   * to plain RTP (the re-offer policy refuses that, media-update.ts).
   */
  set(keying: SdesKeying | undefined): void {
    if (keying === undefined) return;
    const before = this.#keying;
    this.#keying = keying;
    if (this.#session === undefined || before === undefined) {
      this.#session = new SrtpSession(keying);
      this.#socket.setProtector(this.#session);
      this.#protectRtcp();
      this.#log.info({ suite: keying.suite }, 'SRTP on');
      return;
    }
    const localChanged = !sameKey(before.local, keying.local);
    const remoteChanged = !sameKey(before.remote, keying.remote);
    if (!localChanged && !remoteChanged && before.suite === keying.suite) return;
    this.#session.rekey(keying, localChanged, remoteChanged);
    this.#log.info({ suite: keying.suite, localChanged, remoteChanged }, 'SRTP re-keyed');
  }

  /** The leg's RTCP (muxed or on port + 1): its compounds become SRTCP under the same keys. */
  attachRtcp(rtcp: RtcpSession | undefined): void {
    this.#rtcp = rtcp;
    this.#protectRtcp();
  }

  #protectRtcp(): void {
    const session = this.#session;
    if (session === undefined || this.#rtcp === undefined) return;
    this.#rtcp.setTransform({
      protect: (buf, length) => session.protectRtcp(buf, length),
      unprotect: (buf, length) => session.unprotectRtcp(buf, length),
    });
  }

  get keying(): SdesKeying | undefined {
    return this.#keying;
  }

  stats(): Pick<MediaLegStats, 'srtpSuite' | 'srtpRejected' | 'srtpRefusals'> {
    if (this.#session === undefined) return {};
    const { authFailed, replayed, malformed, keyExpired } = this.#session.counters;
    return {
      srtpSuite: this.#session.suite,
      // RTP datagrams the socket dropped; SRTCP refusals also show in rtcp.malformed.
      srtpRejected: this.#socket.counters.srtpRejected,
      srtpRefusals: { authFailed, replayed, malformed, keyExpired },
    };
  }
}
