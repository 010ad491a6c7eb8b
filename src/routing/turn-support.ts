/**
 * Whether a profile's `turn:` settings can be honoured by a provider (issue 14). A setting the provider
 * cannot map is a dialplan load error naming the field and the provider (e.g. semantic_vad on Gemini), so a
 * call never runs with a setting silently dropped. The provider side is its capabilities.turn.
 */
import type { TurnCapabilities } from '../agent/provider.js';
import type { TurnProfile } from './dialplan.js';

/** A provider that declares no turn capabilities honours no turn setting. */
export const NO_TURN_SETTINGS: TurnCapabilities = {
  vad: [],
  eagerness: false,
  threshold: false,
  prefixPaddingMs: false,
  noiseReduction: [],
  transcription: { on: false, off: false, language: false, model: false },
};

/** The first setting of `turn` that `caps` cannot honour: the field (under `turn.`) and why; else undefined. */
export function unsupportedTurnSetting(
  turn: TurnProfile,
  caps: TurnCapabilities,
): { field: string; message: string } | undefined {
  const no = (field: string, what: string): { field: string; message: string } => ({
    field,
    message: `${what} is not supported by`,
  });
  if (!caps.vad.includes(turn.vad)) return no('vad', turn.vad);
  if (turn.eagerness !== undefined && !caps.eagerness) return no('eagerness', 'eagerness');
  if (turn.threshold !== undefined && !caps.threshold) return no('threshold', 'threshold');
  if (turn.silence_ms !== undefined) {
    const range = caps.silenceMs;
    if (range === undefined) return no('silence_ms', 'silence_ms');
    if (turn.silence_ms < range.min || turn.silence_ms > range.max)
      return no('silence_ms', `silence_ms ${turn.silence_ms} (accepted: ${range.min}..${range.max})`);
  }
  if (turn.prefix_padding_ms !== undefined && !caps.prefixPaddingMs)
    return no('prefix_padding_ms', 'prefix_padding_ms');
  const nr = turn.noise_reduction;
  if (nr !== undefined && nr !== 'off' && !caps.noiseReduction.includes(nr))
    return no('noise_reduction', `noise_reduction ${nr}`);
  const t = turn.transcription;
  if (t !== undefined) {
    if (t.enabled && !caps.transcription.on) return no('transcription.enabled', 'transcription');
    if (!t.enabled && !caps.transcription.off)
      return no('transcription.enabled', 'turning transcription off');
    if (t.language !== undefined && !caps.transcription.language)
      return no('transcription.language', 'a transcription language');
    if (t.model !== undefined && !caps.transcription.model)
      return no('transcription.model', 'a transcription model');
  }
  return undefined;
}
