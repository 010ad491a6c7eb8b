/**
 * What the wire tap records for OpenAI frames: the message as sent or received, with base64 audio
 * replaced by `{audioMs, bytes}` so recordings stay small and readable (AgentOptions.wireTap).
 */

/** Decoded size of a base64 string without decoding it. */
export function base64Bytes(b64: string): number {
  const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.floor((b64.length * 3) / 4) - padding;
}

function audioSummary(bytes: number, bytesPerMs: number): { audioMs: number; bytes: number } {
  return { audioMs: bytes / bytesPerMs, bytes };
}

/** The tap record for one input_audio_buffer.append of `bytes` bytes. */
export function tapOutboundAudio(bytes: number, bytesPerMs: number): Record<string, unknown> {
  return { type: 'input_audio_buffer.append', audio: audioSummary(bytes, bytesPerMs) };
}

const AUDIO_DELTA_TYPES = new Set(['response.output_audio.delta', 'response.audio.delta']);

/** The tap record for one server frame: audio deltas summarised, everything else as received. */
export function tapInbound(raw: unknown, bytesPerMs: number): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const r = raw as Record<string, unknown>;
  if (typeof r.type === 'string' && AUDIO_DELTA_TYPES.has(r.type) && typeof r.delta === 'string') {
    return { ...r, delta: audioSummary(base64Bytes(r.delta), bytesPerMs) };
  }
  return raw;
}
