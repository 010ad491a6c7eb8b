/**
 * Early media on an outbound leg (RFC 3262 §5, RFC 3960 gateway model): a provisional response with the
 * callee's SDP answer starts the RTP leg before the 200, so what the callee plays (ringback, announcements)
 * is received at once. The 200 then either repeats that SDP (the leg goes on as it is) or changes it (the leg
 * is moved to the new address / wire format), or carries none (Dialog.remoteSdp is the early SDP).
 */
import type { Logger } from '../observability/logger.js';
import { parseAnswer, type NegotiatedMedia } from '../sip/sdp.js';
import type { SdesKeying } from '../sip/sdp-crypto.js';
import type { PendingMediaLeg } from './call-ports.js';
import type { MediaLeg } from './media-leg.js';

export type EarlyAnswer =
  | { readonly ok: true; readonly negotiated: NegotiatedMedia; readonly leg: MediaLeg | undefined }
  | { readonly ok: false; readonly detail: string };

function sameKeys(a: SdesKeying | undefined, b: SdesKeying | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.suite === b.suite && a.remote.key.equals(b.remote.key) && a.remote.salt.equals(b.remote.salt);
}

function sameMedia(a: NegotiatedMedia, b: NegotiatedMedia): boolean {
  return (
    a.remote.address === b.remote.address &&
    a.remote.port === b.remote.port &&
    a.hold === b.hold &&
    a.codec.name === b.codec.name &&
    a.codec.payloadType === b.codec.payloadType &&
    a.codec.clockRateHz === b.codec.clockRateHz &&
    a.telephoneEvent?.payloadType === b.telephoneEvent?.payloadType &&
    sameKeys(a.srtp, b.srtp)
  );
}

export class EarlyMediaLeg {
  #leg: MediaLeg | undefined;
  #negotiated: NegotiatedMedia | undefined;
  /** SDP changes applied to a running leg (for logs and tests). */
  updates = 0;

  constructor(
    private readonly d: {
      readonly pending: PendingMediaLeg;
      readonly offer: string;
      readonly logger: Logger;
      /** The leg started on early media (e.g. to relay or record what the callee plays). */
      readonly onStart?: (leg: MediaLeg) => void;
      /** SDES: the keys an answer SDP settles for our offer's a=crypto (sdp-crypto.ts answeredCrypto). */
      readonly readKeys?: (
        answerSdp: string,
      ) =>
        { readonly ok: true; readonly srtp?: SdesKeying } | { readonly ok: false; readonly reason: string };
      /** An answer without a usable key is unusable (trunk `srtp: required`). */
      readonly requireKeys?: boolean;
    },
  ) {}

  get leg(): MediaLeg | undefined {
    return this.#leg;
  }

  /** DialOptions.onEarlyMedia: start the leg on the first usable early SDP, follow later changes. */
  readonly onEarlySdp = (sdp: string): void => {
    const answer = this.#parse(sdp);
    if (!answer.ok) {
      this.d.logger.info({ detail: answer.detail }, 'early media SDP unusable; ignored');
      return;
    }
    if (this.#leg !== undefined) {
      this.#apply(answer);
      return;
    }
    try {
      this.#leg = this.d.pending.start(answer);
    } catch (err) {
      this.d.logger.warn({ err }, 'early media leg could not start');
      return;
    }
    this.#negotiated = answer;
    this.d.logger.info({ codec: answer.codec.name }, 'early media started');
    this.d.onStart?.(this.#leg);
  };

  /** The 2xx's SDP: the negotiated media, and the leg already running since early media (updated) if any. */
  answer(finalSdp: string): EarlyAnswer {
    const answer = this.#parse(finalSdp);
    if (!answer.ok) return { ok: false, detail: answer.detail };
    if (this.#leg !== undefined) this.#apply(answer);
    return { ok: true, negotiated: answer, leg: this.#leg };
  }

  /** The answer's media and, when we offered a=crypto, its SRTP keys (absent keys refused if required). */
  #parse(sdp: string): NegotiatedMedia | { readonly ok: false; readonly detail: string } {
    const answer = parseAnswer(this.d.offer, sdp);
    if (!answer.ok || this.d.readKeys === undefined) return answer;
    const keys = this.d.readKeys(sdp);
    if (!keys.ok) return { ok: false, detail: `unusable SRTP key: ${keys.reason}` };
    if (keys.srtp === undefined) {
      return this.d.requireKeys === true
        ? { ok: false, detail: 'answer without SRTP (the trunk requires it)' }
        : answer;
    }
    return { ...answer, srtp: keys.srtp };
  }

  #apply(answer: NegotiatedMedia): void {
    const leg = this.#leg;
    const current = this.#negotiated;
    if (leg === undefined || current === undefined || sameMedia(current, answer)) return;
    // RFC 3264 §8.3: a changed answer moves the stream; a different codec switches the wire format.
    if (answer.codec.name !== current.codec.name || answer.codec.payloadType !== current.codec.payloadType) {
      try {
        leg.setWireFormat?.(answer.codec, answer.telephoneEvent);
      } catch (err) {
        this.d.logger.warn({ err }, 'early media: the new codec could not be applied');
      }
    }
    leg.updateRemote(answer.remote, answer.hold);
    leg.setSrtp?.(answer.srtp);
    this.#negotiated = answer;
    this.updates++;
    this.d.logger.info({ codec: answer.codec.name }, 'early media SDP changed; leg updated');
  }

  /** The call did not happen: free the port (closing the leg if early media started it). */
  release(): void {
    if (this.#leg !== undefined) this.#leg.close();
    else this.d.pending.release();
  }
}
