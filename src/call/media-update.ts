/**
 * In-dialog offers from the caller: re-INVITE (RFC 3261 §14.2) and UPDATE (RFC 3311), surfaced by the
 * signaling backend as a dialog `modify`. Hold and resume, a new media address or port, a session refresh
 * (RFC 4028) and an offerless re-INVITE all arrive here and are answered per RFC 3264 §8.
 */
import type { Logger } from '../observability/logger.js';
import {
  createOffer,
  negotiateAnswer,
  nextVersion,
  parseAnswer,
  type CodecName,
  type NegotiatedMedia,
  WARNING_INCOMPATIBLE,
} from '../sip/sdp.js';
import { answeredCrypto, cryptoLine, SdesAnswerer } from '../sip/sdp-crypto.js';
import type { Dialog, ModifyRequest } from '../sip/signaling.js';
import type { MediaLeg } from './media-leg.js';
import type { MediaDirectionState } from './session.js';
import { switchableCodecs } from './wire-format.js';

/** How long (and how often) to look for the answer an ACK carries after our offer in a 200 (see below). */
const ACK_ANSWER_POLL_MS = 100;
const ACK_ANSWER_POLLS = 50;

export interface MediaUpdateDeps {
  readonly dialog: Dialog;
  readonly media: MediaLeg;
  /** The address we advertise and the leg's port (unchanged for the whole call). */
  readonly local: { readonly address: string; readonly port: number };
  /** What the initial offer/answer settled. */
  readonly negotiated: NegotiatedMedia;
  readonly logger: Logger;
  readonly onChange: (state: MediaDirectionState) => void;
}

/** RFC 3264 §6.1, from our side: an answer's direction and a null address decide what flows. */
export function directionState(media: NegotiatedMedia): MediaDirectionState {
  const nullAddress = media.remote.address === '0.0.0.0' || media.remote.address === '::';
  return {
    sending: (media.direction === 'sendrecv' || media.direction === 'sendonly') && !nullAddress,
    receiving: media.direction === 'sendrecv' || media.direction === 'recvonly',
  };
}

/** `o=` session id and version of an SDP body, undefined when it has none. */
function originOf(sdp: string): string | undefined {
  const m = /^o=\S+\s+(\S+)\s+(\d+)\s/m.exec(sdp);
  return m === null ? undefined : `${m[1]} ${m[2]}`;
}

/** The SDP without its o= line: what must be equal for two descriptions to be "the same". */
function withoutOrigin(sdp: string): string {
  return sdp
    .replace(/^o=.*$/m, '')
    .replace(/\r\n/g, '\n')
    .trim();
}

/**
 * Answers the caller's in-dialog offers for one call. An offer may switch the codec (RFC 3264 §8.3.2): one
 * that no longer lists the codec in use is answered with the first offered codec the leg can switch its
 * wire to (wire-format.ts; the agent keeps the call's codec and the leg converts). An offer with none of them is refused with 488, which RFC 3261 §14.2
 * says leaves the session as it was.
 */
export class MediaUpdater {
  readonly #d: MediaUpdateDeps;
  #current: NegotiatedMedia;
  #remoteOrigin: string | undefined;
  #pollTimer: NodeJS.Timeout | undefined;

  constructor(deps: MediaUpdateDeps) {
    this.#d = deps;
    this.#current = deps.negotiated;
    this.#remoteOrigin = originOf(deps.dialog.remoteSdp);
  }

  get current(): NegotiatedMedia {
    return this.#current;
  }

  handle(request: ModifyRequest): void {
    if (request.sdpOffer === undefined) {
      // RFC 3311 §5.2: an UPDATE without an offer (e.g. a session-timer refresh) changes nothing. The
      // ModifyRequest contract always carries a body, so repeat our current SDP unchanged (same o= version).
      if (request.method === 'UPDATE') return request.accept(this.#d.dialog.localSdp);
      return this.#offerless(request);
    }
    const { dialog, local, logger } = this.#d;
    const offer = request.sdpOffer;
    const origin = originOf(offer);
    // RFC 3264 §8: an offer whose o= version did not change is the same session (a session-timer refresh,
    // RFC 4028 §9): answer with our previous SDP, as it was, and change nothing.
    if (origin !== undefined && origin === this.#remoteOrigin) {
      request.accept(dialog.localSdp);
      return;
    }
    const version = nextVersion(dialog.localSdp);
    // RFC 4568 §7.1.4: an SRTP call stays SRTP (a plain re-offer is a downgrade: 488) and a plain call stays
    // plain; a repeated key keeps ours, a new one re-keys.
    const srtp = this.#current.srtp;
    const security = new SdesAnswerer(srtp === undefined ? 'off' : 'required', {
      ...(srtp === undefined ? {} : { current: srtp }),
    });
    const answerWith = (supported: CodecName[]): ReturnType<typeof negotiateAnswer> =>
      negotiateAnswer(offer, {
        ...local,
        security,
        supported,
        // The running leg keeps its packetization (its jitter buffer and clock are built for it).
        ptimeMs: this.#d.media.ptimeMs,
        ...(version === undefined ? {} : version),
      });
    // The codec in use stays while the offer still lists it (a refresh or hold that re-lists the formats in
    // another order changes nothing); another one is taken only when the offer left it out.
    const inUse = answerWith([this.#current.codec.name]);
    const others = this.#switchable();
    const answer = inUse.ok || others.length === 0 ? inUse : answerWith(others);
    if (!answer.ok) {
      logger.info({ status: answer.status, detail: answer.detail }, 're-offer refused; media unchanged');
      request.reject(answer.status, {
        reason: answer.status === 488 ? 'Not Acceptable Here' : 'Bad Request',
        headers: { Warning: answer.warning },
      });
      return;
    }
    try {
      // Before the 200: a format the leg cannot build refuses the offer and changes nothing.
      this.#d.media.setWireFormat?.(answer.codec, answer.telephoneEvent);
      this.#d.media.setSrtp?.(answer.srtp);
    } catch (err) {
      logger.warn({ err, codec: answer.codec.name }, 're-offer codec unusable; media unchanged');
      request.reject(488, { reason: 'Not Acceptable Here', headers: { Warning: WARNING_INCOMPATIBLE } });
      return;
    }
    // §8: our answer keeps its o= version when nothing in it changed (a re-offer that only moved the peer).
    const sameAsBefore = withoutOrigin(answer.answerSdp) === withoutOrigin(dialog.localSdp);
    request.accept(sameAsBefore ? dialog.localSdp : answer.answerSdp);
    this.#remoteOrigin = origin;
    this.#apply(answer, request.method);
  }

  /** Codecs other than the one in use that the leg can switch its wire to (none: re-offers keep it). */
  #switchable(): CodecName[] {
    const { media } = this.#d;
    const call = media.codec.name;
    if (media.setWireFormat === undefined || call === 'G722') return [];
    return switchableCodecs(call, media.ptimeMs).filter((c) => c !== this.#current.codec.name);
  }

  /**
   * RFC 3264 §5 / RFC 3261 §14.2: a re-INVITE without a body asks us for an offer; the answer comes in the
   * ACK. The Dialog contract has no event for that ACK yet (only `remoteSdp` is updated), so the answer is
   * read from `remoteSdp` for a few seconds, bounded; an ACK later than that leaves the media as it was.
   */
  #offerless(request: ModifyRequest): void {
    const { dialog, local } = this.#d;
    const version = nextVersion(dialog.localSdp);
    // An SRTP call offers the key it sends with now (RFC 4568 §7.1.4); the answer may bring a new peer key.
    const srtp = this.#current.srtp;
    const crypto =
      srtp === undefined
        ? undefined
        : {
            lines: [cryptoLine(srtp.tag, srtp.suite, srtp.local)],
            keys: new Map([[srtp.tag, { suite: srtp.suite, key: srtp.local }]]),
          };
    const offer = createOffer(
      { ...local, supported: [this.#current.codec.name], ...(version === undefined ? {} : version) },
      {
        ptimeMs: this.#current.codec.ptimeMs,
        ...(crypto === undefined ? {} : { crypto: crypto.lines, protocol: 'RTP/SAVP' as const }),
      },
    );
    const before = dialog.remoteSdp;
    request.accept(offer);
    clearTimeout(this.#pollTimer);
    let polls = 0;
    const poll = (): void => {
      this.#pollTimer = undefined;
      if (dialog.ended) return;
      if (dialog.remoteSdp !== before && dialog.localSdp === offer) {
        const parsed = parseAnswer(offer, dialog.remoteSdp);
        const keys = crypto === undefined ? undefined : answeredCrypto(crypto, dialog.remoteSdp);
        const keysOk = keys === undefined || (keys.ok && keys.srtp !== undefined);
        if (parsed.ok && keysOk && parsed.codec.name === this.#current.codec.name) {
          const answer =
            keys?.ok === true && keys.srtp !== undefined ? { ...parsed, srtp: keys.srtp } : parsed;
          this.#remoteOrigin = originOf(dialog.remoteSdp);
          try {
            // Our offer used the codec's default payload type, which may not be the number in use.
            this.#d.media.setWireFormat?.(answer.codec, answer.telephoneEvent);
            this.#d.media.setSrtp?.(answer.srtp);
            this.#apply(answer, 'INVITE');
          } catch (err) {
            this.#d.logger.warn({ err }, 'answer in the ACK unusable; media unchanged');
          }
        } else {
          this.#d.logger.warn('answer in the ACK unusable; media unchanged');
        }
        return;
      }
      if (++polls < ACK_ANSWER_POLLS) {
        this.#pollTimer = setTimeout(poll, ACK_ANSWER_POLL_MS);
        this.#pollTimer.unref();
      }
    };
    poll();
  }

  #apply(media: NegotiatedMedia, method: string): void {
    const previous = this.#current;
    this.#current = media;
    const state = directionState(media);
    // The leg re-targets (and re-latches when the address or port moved) and pauses playout on hold.
    this.#d.media.updateRemote(media.remote, !state.sending, media.rtcp);
    this.#d.onChange(state);
    const moved =
      previous.remote.address !== media.remote.address || previous.remote.port !== media.remote.port;
    this.#d.logger.info(
      { method, direction: media.direction, codec: media.codec.name, moved, ...state },
      'call media updated by the caller',
    );
  }

  dispose(): void {
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
  }
}
