/**
 * In-dialog offers from the caller: re-INVITE (RFC 3261 §14.2) and UPDATE (RFC 3311), surfaced by the
 * signaling backend as a dialog `modify`. Hold and resume, a new media address or port, a session refresh
 * (RFC 4028) and an offerless re-INVITE all arrive here and are answered per RFC 3264 §8.
 */
import type { Logger } from '../observability/logger.js';
import { createOffer, negotiateAnswer, nextVersion, parseAnswer, type NegotiatedMedia } from '../sip/sdp.js';
import type { Dialog, ModifyRequest } from '../sip/signaling.js';
import type { MediaLeg } from './media-leg.js';
import type { MediaDirectionState } from './session.js';

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
 * Answers the caller's in-dialog offers for one call. The codec is fixed for the call's life (the leg and
 * the agent's audio formats are built for it), so a new offer is answered with the same codec or refused
 * with 488, which RFC 3261 §14.2 says leaves the session as it was.
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
    const answer = negotiateAnswer(offer, {
      ...local,
      supported: [this.#current.codec.name],
      // The running leg keeps its packetization (its jitter buffer and clock are built for it).
      ptimeMs: this.#d.media.ptimeMs,
      ...(version === undefined ? {} : version),
    });
    if (!answer.ok) {
      logger.info({ status: answer.status, detail: answer.detail }, 're-offer refused; media unchanged');
      request.reject(answer.status, {
        reason: answer.status === 488 ? 'Not Acceptable Here' : 'Bad Request',
        headers: { Warning: answer.warning },
      });
      return;
    }
    // §8: our answer keeps its o= version when nothing in it changed (a re-offer that only moved the peer).
    const sameAsBefore = withoutOrigin(answer.answerSdp) === withoutOrigin(dialog.localSdp);
    request.accept(sameAsBefore ? dialog.localSdp : answer.answerSdp);
    this.#remoteOrigin = origin;
    this.#apply(answer, request.method);
  }

  /**
   * RFC 3264 §5 / RFC 3261 §14.2: a re-INVITE without a body asks us for an offer; the answer comes in the
   * ACK. The Dialog contract has no event for that ACK yet (only `remoteSdp` is updated), so the answer is
   * read from `remoteSdp` for a few seconds, bounded; an ACK later than that leaves the media as it was.
   */
  #offerless(request: ModifyRequest): void {
    const { dialog, local } = this.#d;
    const version = nextVersion(dialog.localSdp);
    const offer = createOffer(
      { ...local, supported: [this.#current.codec.name], ...(version === undefined ? {} : version) },
      { ptimeMs: this.#current.codec.ptimeMs },
    );
    const before = dialog.remoteSdp;
    request.accept(offer);
    clearTimeout(this.#pollTimer);
    let polls = 0;
    const poll = (): void => {
      this.#pollTimer = undefined;
      if (dialog.ended) return;
      if (dialog.remoteSdp !== before && dialog.localSdp === offer) {
        const answer = parseAnswer(offer, dialog.remoteSdp);
        if (answer.ok && answer.codec.name === this.#current.codec.name) {
          this.#remoteOrigin = originOf(dialog.remoteSdp);
          this.#apply(answer, 'INVITE');
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
    this.#d.media.updateRemote(media.remote, !state.sending);
    this.#d.onChange(state);
    const moved =
      previous.remote.address !== media.remote.address || previous.remote.port !== media.remote.port;
    this.#d.logger.info(
      { method, direction: media.direction, moved, ...state },
      'call media updated by the caller',
    );
  }

  dispose(): void {
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
  }
}
