/**
 * The conformance suite's application: wired only from a Signaling, src/sip/sdp.ts, src/sip/dtmf-info.ts and a
 * node:dgram socket per call. It answers with the negotiated SDP, echoes every RTP packet to its source, records
 * DTMF (RFC 4733 events by RTP timestamp, and SIP INFO), answers hold/unhold re-INVITEs, and can hang up or
 * REFER on a timer. Everything it sees lands in a CallRecord the tests assert on.
 */
import { createSocket, type Socket } from 'node:dgram';
import { parseInfoDtmf } from '../../../src/sip/dtmf-info.js';
import {
  createOffer,
  negotiateAnswer,
  nextVersion,
  parseAnswer,
  type CodecName,
  type NegotiatedMedia,
} from '../../../src/sip/sdp.js';
import type {
  Dialog,
  DialogEndReason,
  IncomingCall,
  ReferResult,
  Signaling,
} from '../../../src/sip/signaling.js';

export interface EchoAppOptions {
  /** RTP bind address, also written into our SDP. */
  readonly mediaHost: string;
  readonly supported?: readonly CodecName[];
  /** 180 Ringing before answering (default true). */
  readonly ring?: boolean;
  /** Wait this long before answering (CANCEL tests). */
  readonly answerDelayMs?: number;
  /** Server-side hang-up this long after the call is confirmed. */
  readonly hangupAfterMs?: number;
  /** REFER the caller to `referTarget` this long after the call is confirmed, then hang up on success. */
  readonly referAfterMs?: number;
  readonly referTarget?: string;
  readonly referredBy?: string;
}

export interface CallRecord {
  readonly callId: string;
  readonly fromUser: string;
  readonly toUser: string;
  readonly transport: string;
  outcome: 'pending' | 'answered' | 'rejected' | 'cancelled' | 'failed';
  rejectStatus?: number;
  answerError?: string;
  media?: NegotiatedMedia;
  dialog?: Dialog;
  readonly digits: string[];
  readonly modifies: { readonly hold: boolean; readonly direction: string }[];
  rtpReceived: number;
  rtpEchoed: number;
  rtpPayloadTypes: Set<number>;
  referResult?: ReferResult;
  referError?: string;
  endReason?: DialogEndReason;
  /** Resolves when the call is over in any way (ended, rejected, cancelled, failed). */
  readonly done: Promise<void>;
}

interface RtpView {
  readonly payloadType: number;
  readonly timestamp: number;
  readonly payload: Buffer;
}

/** RFC 3550 §5.1 header: skips CSRCs and a header extension; undefined for anything that is not RTP v2. */
export function parseRtp(packet: Buffer): RtpView | undefined {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return undefined;
  const csrcCount = packet[0]! & 0x0f;
  let offset = 12 + 4 * csrcCount;
  if (packet[0]! & 0x10) {
    if (packet.length < offset + 4) return undefined;
    offset += 4 + 4 * packet.readUInt16BE(offset + 2);
  }
  if (offset > packet.length) return undefined;
  return {
    payloadType: packet[1]! & 0x7f,
    timestamp: packet.readUInt32BE(4),
    payload: packet.subarray(offset),
  };
}

const EVENT_DIGITS = '0123456789*#ABCD';

export class EchoApp {
  readonly calls: CallRecord[] = [];
  readonly #options: EchoAppOptions;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(signaling: Signaling, options: EchoAppOptions) {
    this.#options = options;
    signaling.onInvite((call) => {
      void this.#handle(call);
    });
  }

  /** Close every RTP socket and timer (dialogs are ended by closing the Signaling). */
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    for (const s of this.#sockets) s.close();
    this.#sockets.clear();
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  async #handle(call: IncomingCall): Promise<void> {
    let finish!: () => void;
    const record: CallRecord = {
      callId: call.callId,
      fromUser: call.from.user,
      toUser: call.to.user,
      transport: call.source.transport,
      outcome: 'pending',
      digits: [],
      modifies: [],
      rtpReceived: 0,
      rtpEchoed: 0,
      rtpPayloadTypes: new Set(),
      done: new Promise<void>((r) => (finish = r)),
    };
    this.calls.push(record);
    call.on('cancel', () => {
      record.outcome = 'cancelled';
      finish();
    });

    const socket = createSocket('udp4');
    this.#sockets.add(socket);
    await new Promise<void>((resolve) => socket.bind(0, this.#options.mediaHost, resolve));
    const port = socket.address().port;
    const local = {
      address: this.#options.mediaHost,
      port,
      ...(this.#options.supported ? { supported: this.#options.supported } : {}),
    };

    let localSdp: string;
    let offered: string | undefined;
    if (call.sdpOffer !== undefined) {
      const result = negotiateAnswer(call.sdpOffer, local);
      if (!result.ok) {
        record.outcome = 'rejected';
        record.rejectStatus = result.status;
        await call.reject(result.status, { headers: { Warning: result.warning } });
        this.#release(socket);
        finish();
        return;
      }
      record.media = result;
      localSdp = result.answerSdp;
    } else {
      offered = createOffer(local, { codecs: this.#options.supported ?? ['PCMU', 'PCMA'] });
      localSdp = offered;
    }

    if (this.#options.ring ?? true) await call.ring();
    if (this.#options.answerDelayMs !== undefined) {
      await new Promise((r) => setTimeout(r, this.#options.answerDelayMs));
    }
    if (call.cancelled) {
      this.#release(socket);
      return;
    }

    let dialog: Dialog;
    try {
      dialog = await call.answer(localSdp);
    } catch (err) {
      if (record.outcome !== 'cancelled') {
        record.outcome = 'failed';
        record.answerError = err instanceof Error ? err.message : String(err);
      }
      this.#release(socket);
      finish();
      return;
    }
    record.outcome = 'answered';
    record.dialog = dialog;
    if (offered !== undefined) {
      const answer = parseAnswer(offered, dialog.remoteSdp);
      if (answer.ok) record.media = answer;
    }

    const seenEvents = new Set<string>();
    socket.on('message', (packet, rinfo) => {
      record.rtpReceived += 1;
      const rtp = parseRtp(packet);
      if (!rtp) return;
      record.rtpPayloadTypes.add(rtp.payloadType);
      const te = record.media?.telephoneEvent;
      if (te && rtp.payloadType === te.payloadType && rtp.payload.length >= 4) {
        // RFC 4733 §2.5.1: one event = one RTP timestamp; retransmitted end packets repeat it.
        const event = rtp.payload[0]!;
        const key = `${rtp.timestamp}:${event}`;
        if (!seenEvents.has(key) && event < EVENT_DIGITS.length) {
          seenEvents.add(key);
          record.digits.push(EVENT_DIGITS[event]!);
        }
      }
      socket.send(packet, rinfo.port, rinfo.address, (err) => {
        if (!err) record.rtpEchoed += 1;
      });
    });

    dialog.on('info', (info) => {
      const dtmf = parseInfoDtmf(info.contentType, info.body);
      if (dtmf) record.digits.push(dtmf.digit);
    });
    dialog.on('modify', (request) => {
      const version = nextVersion(dialog.localSdp);
      const reLocal = { ...local, ...(version ?? {}) };
      if (request.sdpOffer === undefined) {
        request.accept(createOffer(reLocal, { codecs: this.#options.supported ?? ['PCMU', 'PCMA'] }));
        return;
      }
      const result = negotiateAnswer(request.sdpOffer, reLocal);
      if (!result.ok) {
        request.reject(result.status, { headers: { Warning: result.warning } });
        return;
      }
      record.media = result;
      record.modifies.push({ hold: result.hold, direction: result.direction });
      request.accept(result.answerSdp);
    });
    dialog.on('ended', ({ reason }) => {
      record.endReason = reason;
      this.#release(socket);
      finish();
    });

    if (this.#options.hangupAfterMs !== undefined) {
      this.#later(this.#options.hangupAfterMs, () => void dialog.hangup());
    }
    if (this.#options.referAfterMs !== undefined) {
      this.#later(this.#options.referAfterMs, () => {
        dialog
          .refer(this.#options.referTarget ?? 'sip:transfer@example.com', {
            timeoutMs: 10_000,
            ...(this.#options.referredBy !== undefined ? { referredBy: this.#options.referredBy } : {}),
          })
          .then(
            async (result) => {
              record.referResult = result;
              if (result.status >= 200 && result.status < 300) await dialog.hangup();
            },
            (err: unknown) => {
              record.referError = err instanceof Error ? err.message : String(err);
            },
          );
      });
    }
  }

  #release(socket: Socket): void {
    if (this.#sockets.delete(socket)) socket.close();
  }
}
