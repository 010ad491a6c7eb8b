import type { Codec } from '../media/codecs/codec.js';
import { Resampler } from '../media/dsp/resampler.js';
import type { Logger } from '../observability/logger.js';
import { createOffer, type CodecName } from '../sip/sdp.js';
import { parseInfoDtmf } from '../sip/dtmf-info.js';
import { SipError, type Dialog, type Signaling } from '../sip/signaling.js';
import type { LiveCall, MediaLegFactory, PendingMediaLeg } from './call-ports.js';
import type { MediaLeg } from './media-leg.js';
import { EarlyMediaLeg } from './early-media.js';
import type { TransferOutcome, TransferTarget } from './tools/dispatcher.js';

export interface BridgeTransferDeps {
  readonly signaling: Signaling;
  /** The same factory the inbound legs come from: the second leg shares the port pool and the ticker. */
  readonly media: MediaLegFactory;
  readonly publicHost: string;
  readonly logger: Logger;
  /** How long the target may ring before the transfer fails (default 30 s). */
  readonly answerTimeoutMs?: number;
}

/**
 * Frames relayed but not yet sent stay in the playout queue by reference, so each direction writes into a
 * ring of preallocated buffers (no allocation per packet). Both legs tick on the one shared clock, so the
 * queue holds one or two frames; past RELAY_MAX_QUEUED it is flushed rather than let latency grow.
 */
const RING_FRAMES = 16;
const RELAY_MAX_QUEUED = 8;

/**
 * Bridge transfer (DESIGN.md §3 Signaling `dial`): the server dials the target on a second RTP leg from the
 * same factory and relays audio between the two legs' playouts, with the agent detached. Same codec: the
 * payloads are copied as they are; different codecs: decoded, resampled and re-encoded. Either side hanging
 * up (or going silent on RTP) ends both.
 */
export function createBridgeTransfer(
  deps: BridgeTransferDeps,
): (call: LiveCall, target: TransferTarget) => Promise<TransferOutcome> {
  return async (call, target) => {
    const log = deps.logger.child({ callId: call.id, tenant: call.tenant, component: 'bridge' });
    const a = call.media;
    let pending: PendingMediaLeg;
    try {
      pending = await deps.media.allocate();
    } catch (err) {
      // No RTP port (or the pool failed): a failed transfer, the caller stays with the agent (issue 11).
      log.warn({ err, target: target.name }, 'bridge: no RTP port for the second leg');
      return {
        ok: false,
        callLeft: false,
        status: 503,
        message: `bridge to ${target.name} failed: no media port`,
      };
    }
    // Offer the caller's codec first and the same ptime, so the relay is a plain copy in the usual case.
    const first = a.codec.name === 'G722' ? 'PCMU' : a.codec.name;
    const codecs: CodecName[] = [first, ...(['PCMU', 'PCMA'] as const).filter((c) => c !== first)];
    const offer = createOffer(
      { address: deps.publicHost, port: pending.localPort },
      { codecs, ptimeMs: a.ptimeMs },
    );
    // RFC 3960 early media: the target's ringback or announcement (a 183 with SDP) reaches the caller at once.
    let stopBtoA: (() => void) | undefined;
    const early = new EarlyMediaLeg({
      pending,
      offer,
      logger: log,
      onStart: (leg) => {
        a.playout.flush();
        stopBtoA = relay(leg, a, log);
      },
    });
    const abandon = (): void => {
      stopBtoA?.();
      early.release();
    };
    let dialog: Dialog;
    try {
      dialog = await deps.signaling.dial(target.uri, {
        sdpOffer: offer,
        timeoutMs: deps.answerTimeoutMs ?? 30_000,
        onEarlyMedia: early.onEarlySdp,
      });
    } catch (err) {
      abandon();
      const status = err instanceof SipError ? err.status : undefined;
      log.info({ target: target.name, status, err: (err as Error).message }, 'bridge target did not answer');
      return {
        ok: false,
        callLeft: false,
        ...(status === undefined ? {} : { status }),
        message: `bridge to ${target.name} failed: ${(err as Error).message}`,
      };
    }
    const answer = early.answer(dialog.remoteSdp);
    if (!answer.ok) {
      abandon();
      await dialog.hangup().catch(() => undefined);
      return { ok: false, callLeft: false, status: 488, message: `bridge to ${target.name}: unusable SDP` };
    }
    let b: MediaLeg;
    try {
      b = answer.leg ?? pending.start(answer.negotiated);
    } catch (err) {
      pending.release();
      log.warn({ err, target: target.name }, 'bridge: second leg could not start');
      await dialog.hangup().catch(() => undefined);
      return { ok: false, callLeft: false, status: 500, message: `bridge to ${target.name} failed: media` };
    }
    const stopAtoB = relay(a, b, log);
    stopBtoA ??= relay(b, a, log);
    const stopDtmf = relayDtmf(call, b, dialog, log);
    // Agent audio still queued on the caller's leg must not play over the person now on the line.
    a.playout.flush();

    let ended = false;
    const endBoth = (why: string): void => {
      if (ended) return;
      ended = true;
      log.info({ why, target: target.name, rtpA: a.stats(), rtpB: b.stats() }, 'bridge ended');
      stopAtoB();
      stopBtoA?.();
      stopDtmf();
      b.close();
      if (!dialog.ended) dialog.hangup().catch((err: unknown) => log.warn({ err }, 'BYE to target failed'));
      void call.session.end('transferred');
    };
    dialog.once('ended', () => endBoth('target hung up'));
    b.once('inactive', () => endBoth('no RTP from target'));
    call.session.once('ended', () => endBoth('caller side ended'));
    log.info({ target: target.name, codecA: a.codec.name, codecB: b.codec.name }, 'call bridged');
    return { ok: true, callLeft: true, status: 200, via: 'bridge', message: `bridged to ${target.name}` };
  };
}

/**
 * Key presses cross the bridge: the caller's (RFC 4733 or SIP INFO, as the session reports them) go to the
 * target as RFC 4733 events, and the target's RFC 4733 or INFO digits go back to the caller. Returns the
 * unsubscribe.
 */
function relayDtmf(call: LiveCall, b: MediaLeg, target: Dialog, log: Logger): () => void {
  const a = call.media;
  const toTarget = ({ digit }: { readonly digit: string }): void => {
    b.sendDtmf(digit).catch((err: unknown) => log.debug({ err }, 'bridge: DTMF to target failed'));
  };
  const toCaller = (digit: string): void => {
    a.sendDtmf(digit).catch((err: unknown) => log.debug({ err }, 'bridge: DTMF to caller failed'));
  };
  const fromTargetRtp = ({ digit }: { readonly digit: string }): void => toCaller(digit);
  const fromTargetInfo = (info: { readonly contentType: string; readonly body: string }): void => {
    const dtmf = parseInfoDtmf(info.contentType, info.body);
    if (dtmf !== undefined) toCaller(dtmf.digit);
  };
  call.session.on('dtmf', toTarget);
  b.on('dtmf', fromTargetRtp);
  target.on('info', fromTargetInfo);
  return () => {
    call.session.off('dtmf', toTarget);
    b.off('dtmf', fromTargetRtp);
    target.off('info', fromTargetInfo);
  };
}

/** Relays `from`'s caller frames into `to`'s playout; returns the unsubscribe. */
function relay(from: MediaLeg, to: MediaLeg, log: Logger): () => void {
  const sameCodec = from.codec.name === to.codec.name && from.ptimeMs === to.ptimeMs;
  const transcode = sameCodec ? undefined : new Transcoder(from.codec, to.codec, to.ptimeMs);
  const ring: Buffer[] = [];
  const maxBytes = transcode?.maxEncodedBytes ?? 1500;
  for (let i = 0; i < RING_FRAMES; i++) ring.push(Buffer.alloc(maxBytes));
  let next = 0;
  let overflowLogged = false;
  const onFrame = (payload: Buffer): void => {
    if (to.playout.queuedMs >= RELAY_MAX_QUEUED * to.ptimeMs) {
      if (!overflowLogged) log.warn('bridge relay queue overflow; flushed');
      overflowLogged = true;
      to.playout.flush();
    }
    const slot = ring[next]!;
    next = (next + 1) % RING_FRAMES;
    const bytes = transcode === undefined ? payload.copy(slot) : transcode.convert(payload, slot);
    if (bytes > 0) to.playout.enqueue(slot.subarray(0, bytes), 'bridge', 'bridge');
  };
  from.on('frame', onFrame);
  return () => {
    from.off('frame', onFrame);
  };
}

/** Decode → resample → encode between two codecs, one frame at a time, into caller-owned buffers. */
class Transcoder {
  readonly maxEncodedBytes: number;
  readonly #from: Codec;
  readonly #to: Codec;
  readonly #decoded: Int16Array;
  readonly #resampler: Resampler | undefined;
  readonly #resampled: Int16Array;
  readonly #frame: Int16Array;
  #pending = 0;

  constructor(from: Codec, to: Codec, ptimeMs: number) {
    this.#from = from;
    this.#to = to;
    this.#decoded = new Int16Array(Math.ceil((from.sampleRateHz * 120) / 1000));
    if (from.sampleRateHz !== to.sampleRateHz) {
      this.#resampler = new Resampler(from.sampleRateHz, to.sampleRateHz);
      this.#resampled = new Int16Array(this.#resampler.maxOutputSamples(this.#decoded.length));
    } else {
      this.#resampled = new Int16Array(0);
    }
    this.#frame = new Int16Array(to.frameSamples(ptimeMs));
    this.maxEncodedBytes = to.name === 'opus' ? 1275 : this.#frame.length * 2;
  }

  /** Bytes written to `out`; 0 while a whole outgoing frame has not yet accumulated. */
  convert(payload: Buffer, out: Buffer): number {
    let pcm = this.#decoded.subarray(0, this.#from.decode(payload, this.#decoded));
    if (this.#resampler !== undefined) {
      pcm = this.#resampled.subarray(0, this.#resampler.process(pcm, this.#resampled));
    }
    // Equal ptimes make this one frame in, one frame out; a remainder waits for the next frame.
    const take = Math.min(pcm.length, this.#frame.length - this.#pending);
    this.#frame.set(pcm.subarray(0, take), this.#pending);
    this.#pending += take;
    if (this.#pending < this.#frame.length) return 0;
    this.#pending = 0;
    return this.#to.encode(this.#frame, out);
  }
}
