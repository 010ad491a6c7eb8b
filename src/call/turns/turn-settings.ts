import type { VadSettings } from '../../agent/agent.js';
import type { TurnProfile } from '../../routing/dialplan.js';

/**
 * A profile's `turn:` (issue 14) as the Agent contract's VadSettings, which every adapter maps onto its own
 * fields. Only what the profile sets is passed; the dialplan loader has already refused settings the
 * provider cannot honour (routing/turn-support.ts).
 */
export function vadSettings(turn: TurnProfile): VadSettings {
  const t = turn.transcription;
  return {
    type: turn.vad,
    ...(turn.eagerness === undefined ? {} : { eagerness: turn.eagerness }),
    ...(turn.threshold === undefined ? {} : { threshold: turn.threshold }),
    ...(turn.silence_ms === undefined ? {} : { silenceDurationMs: turn.silence_ms }),
    ...(turn.prefix_padding_ms === undefined ? {} : { prefixPaddingMs: turn.prefix_padding_ms }),
    ...(turn.noise_reduction === undefined ? {} : { noiseReduction: turn.noise_reduction }),
    ...(t === undefined
      ? {}
      : {
          transcription: {
            enabled: t.enabled,
            ...(t.language === undefined ? {} : { language: t.language }),
            ...(t.model === undefined ? {} : { model: t.model }),
          },
        }),
  };
}
