import { DeepgramReplies } from '../deepgram/replies.js';
import { isKnownServerMessage } from '../deepgram/schemas.js';
import { parseToolArguments } from '../../tool-arguments.js';
import type { ReplayedEvent } from './normalise.js';

/**
 * Recorded Deepgram Voice Agent messages (the adapter's wire tap, src/agent/providers/deepgram/) turned back
 * into the normalised events the adapter emitted for them. Deepgram's audio frames carry no id, so the reply
 * each belongs to is inferred by the adapter's own state machine (DeepgramReplies), fed the same messages in
 * the same order: `ConversationText{assistant}` / `AgentStartedSpeaking` open a reply, the tap's
 * `AgentAudio{audio:{audioMs, bytes}, dropped}` placeholders are its audio, `AgentAudioDone` completes it,
 * `UserStartedSpeaking` cuts it (cancelled). Audio the adapter dropped (late audio of a cut-off reply) is
 * skipped, as the caller never heard it. Welcome, SettingsApplied, History, EndOfThought, … carry no event.
 */

export interface NormalisedSink {
  event(e: ReplayedEvent): void;
  /** An audio delta of `audioMs` for the reply; the caller tracks its offset within the reply. */
  audio(responseId: string, itemId: string, audioMs: number): void;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The tap's placeholder for one binary audio frame from the server. */
const AUDIO_PLACEHOLDER = 'AgentAudio';

export function isDeepgramMessage(type: string): boolean {
  return type === AUDIO_PLACEHOLDER || isKnownServerMessage(type);
}

/** One normaliser per recorded session: it keeps the reply state across messages. */
export class DeepgramNormaliser {
  #n = 0;
  readonly #replies = new DeepgramReplies(() => String(++this.#n));

  /** Normalises one inbound Deepgram message (its `type` passed isDeepgramMessage). */
  message(m: Obj, sink: NormalisedSink): void {
    switch (m.type) {
      case AUDIO_PLACEHOLDER: {
        const reply = this.#replies.audio();
        if (reply === undefined || m.dropped === true) return;
        const audioMs = isObj(m.audio) && typeof m.audio.audioMs === 'number' ? m.audio.audioMs : 0;
        sink.audio(reply.responseId, reply.itemId, audioMs);
        return;
      }
      case 'UserStartedSpeaking': {
        const cut = this.#replies.cut();
        sink.event({ kind: 'user.speech.started' });
        if (cut !== undefined)
          sink.event({ kind: 'turn.end', responseId: cut.responseId, status: 'cancelled' });
        return;
      }
      case 'ConversationText': {
        if (typeof m.content !== 'string') return;
        if (m.role === 'user') {
          sink.event({ kind: 'user.transcript', text: m.content });
        } else if (m.role === 'assistant') {
          const reply = this.#replies.open();
          sink.event({ kind: 'text', text: m.content, final: true, ...reply });
        }
        return;
      }
      case 'AgentStartedSpeaking':
        this.#replies.open();
        return;
      case 'AgentAudioDone': {
        const done = this.#replies.done();
        if (done !== undefined)
          sink.event({ kind: 'turn.end', responseId: done.responseId, status: 'completed' });
        return;
      }
      case 'FunctionCallRequest': {
        if (!Array.isArray(m.functions)) return;
        for (const f of m.functions) {
          // client_side:false ran on Deepgram's side; the adapter passes only client-side calls on.
          if (!isObj(f) || f.client_side !== true || typeof f.id !== 'string' || typeof f.name !== 'string')
            continue;
          const args = typeof f.arguments === 'string' ? parseToolArguments(f.arguments) : undefined;
          sink.event({ kind: 'tool.call', callId: f.id, name: f.name, args: args ?? {} });
        }
        return;
      }
      default:
        return;
    }
  }
}
