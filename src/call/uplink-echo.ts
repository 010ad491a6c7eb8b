/**
 * The call's line echo canceller (issue 14, DESIGN §2 "inbound"): the caller's decoded audio minus the echo of
 * what we sent, before anything listens (the provider, its VAD, local VAD, keywords).
 *
 * Reference: the frame the leg sent on RTP in the previous media slot, decoded by a decoder of our own (the
 * leg's 'tick' reports it after the slot's caller frame was handed on), so a caller frame is always cleaned
 * with everything sent before it; the echo path's delay (network round trip, the phone's hybrid, our jitter
 * buffer) sits inside the canceller's tail.
 *
 * Narrowband and wideband calls only (G.711, G.722): an Opus call at 48 kHz is passed through uncancelled
 * (`supported` false) — its cost there would be six times a G.711 call's.
 */
import { createCodec } from '../media/codecs/index.js';
import type { Codec } from '../media/codecs/codec.js';
import { EchoCanceller, type EchoCancellerStats } from '../media/dsp/echo-canceller.js';
import type { MediaLeg } from './media-leg.js';

export interface EchoSettings {
  readonly enabled: boolean;
  readonly tailMs: number;
}

const MAX_RATE_HZ = 16_000;

export class UplinkEcho {
  readonly #aec: EchoCanceller;
  readonly #decoder: Codec;
  readonly #reference: Int16Array;
  #referenceSamples = 0;
  readonly #media: MediaLeg;
  readonly #onTick = (_caller: Buffer | undefined, sent: Buffer | undefined): void => {
    this.#referenceSamples = sent === undefined ? 0 : this.#decoder.decode(sent, this.#reference);
  };

  private constructor(media: MediaLeg, tailMs: number) {
    this.#media = media;
    const codec = media.codec;
    // A decoder of our own: a stateful codec's decoder history belongs to one stream.
    this.#decoder =
      codec.name === 'PCMU' || codec.name === 'PCMA' ? codec : createCodec(codec.name, codec.payloadType);
    this.#aec = new EchoCanceller({ sampleRateHz: codec.sampleRateHz, tailMs });
    this.#reference = new Int16Array(Math.ceil((codec.sampleRateHz * 120) / 1000));
    media.on('tick', this.#onTick);
  }

  /** The canceller for this call, or undefined when disabled or the call's codec is not supported. */
  static create(media: MediaLeg, settings: EchoSettings): UplinkEcho | undefined {
    if (!settings.enabled || !UplinkEcho.supports(media.codec)) return undefined;
    return new UplinkEcho(media, settings.tailMs);
  }

  static supports(codec: Pick<Codec, 'sampleRateHz'>): boolean {
    return codec.sampleRateHz <= MAX_RATE_HZ;
  }

  /** Cleans one decoded caller frame in place (delayed by the canceller's fixed latency of 8 ms). */
  process(pcm: Int16Array): void {
    const n = pcm.length;
    const reference = this.#referenceSamples === n ? this.#reference.subarray(0, n) : undefined;
    this.#aec.process(pcm, reference, pcm);
  }

  stats(): EchoCancellerStats {
    return this.#aec.stats();
  }

  close(): void {
    this.#media.off('tick', this.#onTick);
    if (this.#decoder !== this.#media.codec) this.#decoder.close?.();
  }
}
