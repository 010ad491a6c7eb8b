/**
 * The call's uplink clean-up chain (issue 14, DESIGN §2 "inbound"): the line echo canceller, then the noise
 * suppressor, on the caller's decoded audio before anything listens (the provider, its VAD, local VAD,
 * keywords). The echo canceller goes first: it needs the line as it was (its reference model is linear), and
 * the suppressor then sees only the caller and the noise.
 *
 * Each stage is there only when the profile asks for it and the call's rate suits it (8 or 16 kHz: G.711 and
 * G.722; an Opus call at 48 kHz passes through untouched). With either stage on, a G.711 call the provider
 * takes directly is decoded, cleaned and encoded again (audio-bridge.ts) instead of passed through.
 *
 * Latency: the echo canceller's 8 ms plus the suppressor's 20 ms.
 */
import type { AgentProfile } from '../routing/dialplan.js';
import { NoiseSuppressor, type NoiseSuppressorStats } from '../media/dsp/noise-suppressor.js';
import type { EchoCancellerStats } from '../media/dsp/echo-canceller.js';
import type { UplinkCleaner } from './audio-bridge.js';
import type { MediaLeg } from './media-leg.js';
import { UplinkEcho } from './uplink-echo.js';

export interface UplinkCleanupStats {
  readonly echo?: EchoCancellerStats;
  readonly noise?: NoiseSuppressorStats;
}

export class UplinkCleanup implements UplinkCleaner {
  readonly #echo: UplinkEcho | undefined;
  readonly #noise: NoiseSuppressor | undefined;

  private constructor(echo: UplinkEcho | undefined, noise: NoiseSuppressor | undefined) {
    this.#echo = echo;
    this.#noise = noise;
  }

  /** The chain for this call, or undefined when the profile turns every stage off (or none suits the codec). */
  static create(media: MediaLeg, audio: AgentProfile['audio']): UplinkCleanup | undefined {
    const echo = UplinkEcho.create(media, { enabled: audio.echo_cancel, tailMs: audio.echo_tail_ms });
    const rate = media.codec.sampleRateHz;
    const noise =
      audio.noise_suppression && (rate === 8000 || rate === 16000)
        ? new NoiseSuppressor({ sampleRateHz: rate })
        : undefined;
    if (echo === undefined && noise === undefined) return undefined;
    return new UplinkCleanup(echo, noise);
  }

  /** Cleans one decoded caller frame in place. */
  process(pcm: Int16Array): void {
    this.#echo?.process(pcm);
    this.#noise?.process(pcm);
  }

  /** For the 'call ended' log: a key per stage that ran. */
  stats(): UplinkCleanupStats {
    return {
      ...(this.#echo !== undefined && { echo: this.#echo.stats() }),
      ...(this.#noise !== undefined && { noise: this.#noise.stats() }),
    };
  }

  close(): void {
    this.#echo?.close();
  }
}
