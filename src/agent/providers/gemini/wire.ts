/**
 * Small pure helpers for the Gemini wire: client message builders, the wire-tap redaction (audio replaced
 * by `{audioMs, bytes}`), and goAway duration parsing.
 */
import type { GeminiClientMessage, GeminiServerMessage } from './schemas.js';

export const INPUT_RATE_HZ = 16_000;
export const OUTPUT_RATE_HZ = 24_000;
/** Input is raw PCM16 LE mono at 16 kHz, declared in the mime type [G4][G6]. */
export const INPUT_MIME = `audio/pcm;rate=${INPUT_RATE_HZ}`;

export function audioMessage(base64: string): GeminiClientMessage {
  return { realtimeInput: { audio: { data: base64, mimeType: INPUT_MIME } } };
}

/**
 * AgentOptions.history (issues 14/15) as one `clientContent` of prior turns (user / model), sent right after
 * setupComplete and before any audio. `turnComplete: false`: the turns only seed the context; the model
 * answers the next user turn (the continuation prompt, or the caller), not the seed itself [G4].
 */
export function historyContent(
  history: readonly { readonly role: 'user' | 'assistant'; readonly text: string }[] | undefined,
): GeminiClientMessage | undefined {
  const turns = (history ?? [])
    .filter((t) => t.text.trim() !== '')
    .map((t) => ({
      role: t.role === 'user' ? ('user' as const) : ('model' as const),
      parts: [{ text: t.text }],
    }));
  return turns.length === 0 ? undefined : { clientContent: { turns, turnComplete: false } };
}

/** A complete user turn: the model answers it [G4]. */
export function userTurn(text: string, turnComplete = true): GeminiClientMessage {
  return { clientContent: { turns: [{ role: 'user', parts: [{ text }] }], turnComplete } };
}

/** PCM16 duration of `bytes` at `rateHz`. */
export function pcmMs(bytes: number, rateHz: number): number {
  return bytes / ((rateHz / 1000) * 2);
}

/** The tap's view of a client frame: audio becomes `{audioMs, bytes}`. */
export function tapClient(message: GeminiClientMessage, audioBytes: number): unknown {
  if ('realtimeInput' in message && message.realtimeInput.audio !== undefined) {
    return { realtimeInput: { audio: { audioMs: pcmMs(audioBytes, INPUT_RATE_HZ), bytes: audioBytes } } };
  }
  return message;
}

/** The tap's view of a server frame: inline audio becomes `{audioMs, bytes}`. */
export function tapServer(message: GeminiServerMessage): unknown {
  const parts = message.serverContent?.modelTurn?.parts;
  if (parts === undefined || !parts.some((p) => p.inlineData !== undefined)) return message;
  return {
    ...message,
    serverContent: {
      ...message.serverContent,
      modelTurn: {
        ...message.serverContent?.modelTurn,
        parts: parts.map((p) => {
          if (p.inlineData?.data === undefined) return p;
          const bytes = Math.floor((p.inlineData.data.length * 3) / 4) - padding(p.inlineData.data);
          return {
            ...p,
            inlineData: { mimeType: p.inlineData.mimeType, audioMs: pcmMs(bytes, OUTPUT_RATE_HZ), bytes },
          };
        }),
      },
    },
  };
}

function padding(b64: string): number {
  return b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
}

/** proto3 Duration JSON ("10s", "1.5s") → ms; undefined when absent or unparseable. */
export function durationMs(duration: string | undefined): number | undefined {
  if (duration === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(duration.trim());
  return m === null ? undefined : Math.round(Number(m[1]) * 1000);
}

/** The sample rate a `audio/pcm;rate=N` mime type declares (Vertex omits it [G4]). */
export function mimeRateHz(mimeType: string | undefined): number | undefined {
  const m = /rate=(\d+)/.exec(mimeType ?? '');
  return m === null ? undefined : Number(m[1]);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}
