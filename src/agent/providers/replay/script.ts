import { callerTransitions, loadRecording, type CallerTransition, type Recording } from './recording.js';
import { normaliseWire, type ReplayedEvent } from './normalise.js';

/** The anchor of events that come before the caller's first transition: greet() (or start()). */
export const OPEN_ANCHOR = -1;
/** How far before a caller transition's detection an event is still taken as part of it. */
const SNAP_MS = 300;

/** One recorded provider event, re-timed relative to a caller turn instead of the call's clock. */
export interface ScriptStep {
  /** Index into `transitions` (OPEN_ANCHOR for the greeting / session start). */
  readonly anchor: number;
  /** ms after the anchor was detected. */
  readonly offsetMs: number;
  readonly event: ReplayedEvent;
}

export interface ReplayScript {
  readonly sampleRateHz: number;
  /** The caller's turns as the live VAD will find them in the same caller audio. */
  readonly transitions: readonly CallerTransition[];
  readonly steps: readonly ScriptStep[];
  /** PCM16 for `ms` of a response's audio from `offsetMs`, at `outRateHz`. */
  audio(responseId: string, offsetMs: number, ms: number, outRateHz: number): Int16Array;
}

interface ResponseAudio {
  /** First sample of the response in the agent channel. */
  readonly start: number;
  /** Samples the caller actually heard (a barge-in cut it); later audio is looped from these. */
  readonly heard: number;
}

const isWireOut = (e: { kind: string; direction?: unknown; message?: unknown }): boolean =>
  e.kind === 'wire' && e.direction === 'out';

function isAudioAppend(message: unknown): boolean {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as Record<string, unknown>;
  return m.type === 'input_audio_buffer.append' || 'realtimeInput' in m;
}

/**
 * Builds the replay script of a recording: the provider's events, normalised, each anchored to the caller
 * transition (VAD start or end, found by the same local VAD the live replay runs) that precedes it. A live
 * replay fires the events `offsetMs` after it detects the same transition, so small timing differences
 * between the original call and the replay (latching, jitter, scheduling) do not shift the conversation.
 */
export function buildReplayScript(rec: Recording): ReplayScript {
  const rate = rec.sampleRateHz;
  const transitions = callerTransitions(rec.caller, rate);
  const active = rec.events.find((e) => e.kind === 'call.active');
  const activeT = active?.t ?? 0;
  const hasGreeting = typeof rec.meta.profile?.greeting === 'string';
  // With a greeting, the session greets once the caller's RTP latched: the first non-audio client message.
  const greetT = hasGreeting
    ? (rec.events.find((e) => e.t >= activeT && isWireOut(e) && !isAudioAppend(e.message))?.t ?? activeT)
    : activeT;
  const timed = normaliseWire(rec.events);
  const steps: ScriptStep[] = timed.map(({ t, event }) => {
    let anchor = OPEN_ANCHOR;
    for (let i = 0; i < transitions.length && transitions[i]!.detectedMs <= t; i++) anchor = i;
    // An event just before the local VAD's detection (the provider's VAD is quicker or its silence window
    // shorter) belongs to that turn: fire it when the replay detects the turn, not long after the last one.
    const next = transitions[anchor + 1];
    if (next !== undefined && next.detectedMs - t <= SNAP_MS)
      return { anchor: anchor + 1, offsetMs: 0, event };
    const base = anchor === OPEN_ANCHOR ? greetT : transitions[anchor]!.detectedMs;
    return { anchor, offsetMs: Math.max(0, t - base), event };
  });

  const responses = new Map<string, ResponseAudio>();
  const totals = new Map<string, number>();
  for (const { t, event } of timed) {
    if (event.kind !== 'audio') continue;
    totals.set(event.responseId, (totals.get(event.responseId) ?? 0) + event.audioMs);
    if (!responses.has(event.responseId))
      responses.set(event.responseId, { start: Math.round((t * rate) / 1000), heard: -1 });
  }
  for (const [id, r] of responses) {
    const cut = rec.events.find(
      (e) => e.kind === 'barge-in' && e.action === 'interrupted' && e.responseId === id,
    );
    const heardMs = typeof cut?.playedMs === 'number' ? cut.playedMs : (totals.get(id) ?? 0);
    const heard = Math.max(0, Math.min(Math.round((heardMs * rate) / 1000), rec.agent.length - r.start));
    responses.set(id, { start: r.start, heard });
  }

  return {
    sampleRateHz: rate,
    transitions,
    steps,
    audio(responseId, offsetMs, ms, outRateHz) {
      const n = Math.max(0, Math.round((ms * outRateHz) / 1000));
      const out = new Int16Array(n);
      const r = responses.get(responseId);
      const step = rate / outRateHz;
      const first = (offsetMs * rate) / 1000;
      for (let j = 0; j < n; j++) {
        const pos = Math.floor(first + j * step);
        if (r === undefined || r.heard === 0) {
          // Nothing of this response reached the caller: a quiet tone stands in, so it is still audible.
          out[j] = Math.round(3000 * Math.sin((2 * Math.PI * 440 * pos) / rate));
        } else {
          out[j] = rec.agent[r.start + (pos % r.heard)] ?? 0;
        }
      }
      return out;
    },
  };
}

export async function loadReplayScript(dir: string): Promise<ReplayScript> {
  return buildReplayScript(await loadRecording(dir));
}
