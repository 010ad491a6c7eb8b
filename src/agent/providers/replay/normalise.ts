import { DeepgramNormaliser, isDeepgramMessage, type NormalisedSink } from './normalise-deepgram.js';
import type { TimelineEvent } from './recording.js';

/**
 * Recorded provider wire messages (events.jsonl `kind: 'wire'`, direction 'in', audio already summarised as
 * `{audioMs, bytes}` by each adapter's tap) turned back into normalised Agent events. Covers the OpenAI
 * family (OpenAI GA and beta, Azure, Qwen-Omni), Gemini Live and Deepgram (normalise-deepgram.ts); unknown
 * messages are skipped.
 */
export type ReplayedEvent =
  | { readonly kind: 'user.speech.started'; readonly audioStartMs?: number; readonly itemId?: string }
  | { readonly kind: 'user.speech.ended'; readonly audioEndMs?: number; readonly itemId?: string }
  | {
      readonly kind: 'audio';
      readonly responseId: string;
      readonly itemId: string;
      readonly audioMs: number;
      /** Where this delta starts within its response's audio. */
      readonly offsetMs: number;
    }
  | {
      readonly kind: 'text';
      readonly text: string;
      readonly final: boolean;
      readonly itemId?: string;
      readonly responseId?: string;
    }
  | { readonly kind: 'user.transcript'; readonly text: string; readonly itemId?: string }
  | {
      readonly kind: 'turn.end';
      readonly responseId: string;
      readonly status: 'completed' | 'cancelled' | 'failed' | 'incomplete';
    }
  | {
      readonly kind: 'tool.call';
      readonly callId: string;
      readonly name: string;
      readonly args: Record<string, unknown>;
    };

export interface TimedEvent {
  readonly t: number;
  readonly event: ReplayedEvent;
}

const AUDIO_DELTA = new Set(['response.output_audio.delta', 'response.audio.delta']);
const TRANSCRIPT_DONE = new Set(['response.output_audio_transcript.done', 'response.audio_transcript.done']);
const STATUSES = new Set(['completed', 'cancelled', 'failed', 'incomplete']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function parseArgs(v: unknown): Record<string, unknown> {
  if (isObj(v)) return v;
  if (typeof v !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(v === '' ? '{}' : v);
    return isObj(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

function audioMsOf(v: unknown): number {
  return isObj(v) && typeof v.audioMs === 'number' ? v.audioMs : 0;
}

/** Normalises every inbound wire message of a recorded timeline, in order. */
export function normaliseWire(events: readonly TimelineEvent[]): TimedEvent[] {
  const out: TimedEvent[] = [];
  const responseMs = new Map<string, number>();
  let gemini = { n: 1, itemN: 1 };
  const push = (t: number, event: ReplayedEvent): void => {
    out.push({ t, event });
  };
  const audio = (t: number, responseId: string, itemId: string, audioMs: number): void => {
    const offsetMs = responseMs.get(responseId) ?? 0;
    responseMs.set(responseId, offsetMs + audioMs);
    push(t, { kind: 'audio', responseId, itemId, audioMs, offsetMs });
  };
  const deepgram = new DeepgramNormaliser();
  let deepgramT = 0;
  const deepgramSink: NormalisedSink = {
    event: (event) => push(deepgramT, event),
    audio: (responseId, itemId, audioMs) => audio(deepgramT, responseId, itemId, audioMs),
  };
  for (const e of events) {
    if (e.kind !== 'wire' || e.direction !== 'in' || !isObj(e.message)) continue;
    const m = e.message;
    const type = str(m.type);
    if (type !== undefined && isDeepgramMessage(type)) {
      // Deepgram's types are PascalCase; the OpenAI family's are dotted lower case.
      deepgramT = e.t;
      deepgram.message(m, deepgramSink);
      continue;
    }
    if (type !== undefined) {
      // The OpenAI family.
      const itemId = str(m.item_id);
      if (type === 'input_audio_buffer.speech_started') {
        push(e.t, {
          kind: 'user.speech.started',
          ...(typeof m.audio_start_ms === 'number' ? { audioStartMs: m.audio_start_ms } : {}),
          ...(itemId === undefined ? {} : { itemId }),
        });
      } else if (type === 'input_audio_buffer.speech_stopped') {
        push(e.t, {
          kind: 'user.speech.ended',
          ...(typeof m.audio_end_ms === 'number' ? { audioEndMs: m.audio_end_ms } : {}),
          ...(itemId === undefined ? {} : { itemId }),
        });
      } else if (AUDIO_DELTA.has(type)) {
        audio(e.t, str(m.response_id) ?? 'resp', str(m.item_id) ?? 'item', audioMsOf(m.delta));
      } else if (TRANSCRIPT_DONE.has(type) && typeof m.transcript === 'string') {
        push(e.t, {
          kind: 'text',
          text: m.transcript,
          final: true,
          ...(str(m.item_id) === undefined ? {} : { itemId: str(m.item_id) as string }),
          ...(str(m.response_id) === undefined ? {} : { responseId: str(m.response_id) as string }),
        });
      } else if (type === 'response.function_call_arguments.done') {
        push(e.t, {
          kind: 'tool.call',
          callId: str(m.call_id) ?? `call-${out.length}`,
          name: str(m.name) ?? '',
          args: parseArgs(m.arguments),
        });
      } else if (type === 'response.done' && isObj(m.response)) {
        const status = str(m.response.status) ?? 'completed';
        push(e.t, {
          kind: 'turn.end',
          responseId: str(m.response.id) ?? 'resp',
          status: (STATUSES.has(status) ? status : 'completed') as 'completed',
        });
      } else if (
        type === 'conversation.item.input_audio_transcription.completed' &&
        typeof m.transcript === 'string'
      ) {
        push(e.t, {
          kind: 'user.transcript',
          text: m.transcript,
          ...(str(m.item_id) === undefined ? {} : { itemId: str(m.item_id) as string }),
        });
      }
      continue;
    }
    // Gemini Live: no response ids on the wire; one response per model turn.
    const responseId = `gemini-resp-${gemini.n}`;
    const itemId = `gemini-item-${gemini.itemN}`;
    if (isObj(m.toolCall) && Array.isArray(m.toolCall.functionCalls)) {
      for (const fc of m.toolCall.functionCalls) {
        if (!isObj(fc)) continue;
        push(e.t, {
          kind: 'tool.call',
          callId: str(fc.id) ?? `call-${out.length}`,
          name: str(fc.name) ?? '',
          args: parseArgs(fc.args),
        });
      }
    }
    const sc = isObj(m.serverContent) ? m.serverContent : undefined;
    if (sc === undefined) continue;
    const parts = isObj(sc.modelTurn) && Array.isArray(sc.modelTurn.parts) ? sc.modelTurn.parts : [];
    for (const p of parts) {
      if (isObj(p) && isObj(p.inlineData)) audio(e.t, responseId, itemId, audioMsOf(p.inlineData));
    }
    if (isObj(sc.outputTranscription) && typeof sc.outputTranscription.text === 'string')
      push(e.t, { kind: 'text', text: sc.outputTranscription.text, final: false, itemId, responseId });
    // Gemini reports the caller's barge-in only as `interrupted`.
    if (sc.interrupted === true) push(e.t, { kind: 'user.speech.started' });
    if (sc.interrupted === true || sc.turnComplete === true) {
      push(e.t, {
        kind: 'turn.end',
        responseId,
        status: sc.interrupted === true ? 'cancelled' : 'completed',
      });
      gemini = { n: gemini.n + 1, itemN: gemini.itemN + 1 };
    }
  }
  return out;
}
