import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { EnergyVad } from '../../vad.js';

/**
 * A call recording as the replay provider and the replay runner read it (the files CallRecorder writes):
 * call.json (metadata, the agent profile, the ending), audio.wav (stereo PCM16: left the caller as played
 * out of the jitter buffer, right the agent as sent) and events.jsonl (the timeline, `t` ms since answer).
 * Parsed here, inside agent/, because the dependency rule keeps agent/ from importing media/ (DESIGN.md §1).
 */

export const callMetaSchema = z
  .object({
    formatVersion: z.number().int(),
    callId: z.string(),
    tenant: z.string(),
    codec: z.string(),
    provider: z.string(),
    sampleRateHz: z.number().int().positive(),
    endingReason: z.string().nullable().optional(),
    profile: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .loose();
export type CallMeta = z.infer<typeof callMetaSchema>;

export interface TimelineEvent {
  readonly t: number;
  readonly kind: string;
  readonly [key: string]: unknown;
}

export interface Recording {
  readonly dir: string;
  readonly meta: CallMeta;
  readonly sampleRateHz: number;
  /** Left channel: the caller as the agent heard it. */
  readonly caller: Int16Array;
  /** Right channel: the agent as sent to the caller. */
  readonly agent: Int16Array;
  readonly events: readonly TimelineEvent[];
  /** Lines of events.jsonl that did not parse (a crash can cut the last one). */
  readonly badLines: number;
}

/** Splits a stereo PCM16 WAV (the recorder's format: 44-byte header, or any RIFF with a fmt and data chunk). */
export function parseStereoWav(buf: Buffer): { sampleRateHz: number; left: Int16Array; right: Int16Array } {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE')
    throw new Error('audio.wav is not a RIFF/WAVE file');
  let offset = 12;
  let sampleRateHz = 0;
  let channels = 0;
  let data: Buffer | undefined;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = buf.subarray(offset + 8, Math.min(buf.length, offset + 8 + size));
    if (id === 'fmt ') {
      channels = body.readUInt16LE(2);
      sampleRateHz = body.readUInt32LE(4);
      if (body.readUInt16LE(14) !== 16) throw new Error('audio.wav is not 16-bit PCM');
    } else if (id === 'data') {
      data = body;
      break;
    }
    offset += 8 + size + (size % 2);
  }
  if (data === undefined || channels === 0) throw new Error('audio.wav has no fmt or data chunk');
  const frames = Math.floor(data.length / (2 * channels));
  const left = new Int16Array(frames);
  const right = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    left[i] = data.readInt16LE(i * 2 * channels);
    right[i] = channels > 1 ? data.readInt16LE(i * 2 * channels + 2) : 0;
  }
  return { sampleRateHz, left, right };
}

/** Parses events.jsonl line by line; a line cut short by a crash is counted, not thrown. */
export function parseEvents(text: string): { events: TimelineEvent[]; badLines: number } {
  const events: TimelineEvent[] = [];
  let badLines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const e = JSON.parse(line) as unknown;
      if (typeof e === 'object' && e !== null && typeof (e as TimelineEvent).t === 'number')
        events.push(e as TimelineEvent);
      else badLines++;
    } catch {
      badLines++;
    }
  }
  return { events, badLines };
}

export async function loadRecording(dir: string): Promise<Recording> {
  const [metaText, wav, eventsText] = await Promise.all([
    readFile(join(dir, 'call.json'), 'utf8'),
    readFile(join(dir, 'audio.wav')),
    readFile(join(dir, 'events.jsonl'), 'utf8'),
  ]);
  const meta = callMetaSchema.parse(JSON.parse(metaText));
  const audio = parseStereoWav(wav);
  const { events, badLines } = parseEvents(eventsText);
  return {
    dir,
    meta,
    sampleRateHz: audio.sampleRateHz,
    caller: audio.left,
    agent: audio.right,
    events,
    badLines,
  };
}

/** The local VAD both the replay provider and the replay comparison use to find the caller's turns. */
export const REPLAY_VAD = { thresholdDbfs: -40, minSpeechMs: 100, minSilenceMs: 500, frameMs: 20 } as const;

export interface CallerTransition {
  readonly type: 'start' | 'end';
  /** Backdated onset (VadTransition.atMs). */
  readonly atMs: number;
  /** Media time at which the VAD reported it: what a live replay can anchor to. */
  readonly detectedMs: number;
}

/** The caller's turns in a recorded caller channel, as the replay provider's live VAD will find them. */
export function callerTransitions(caller: Int16Array, sampleRateHz: number): CallerTransition[] {
  const out: CallerTransition[] = [];
  const frame = Math.round((sampleRateHz * REPLAY_VAD.frameMs) / 1000);
  const vad = new EnergyVad({ sampleRateHz, ...REPLAY_VAD });
  for (let o = 0; o + frame <= caller.length; o += frame) {
    const t = vad.process(caller.subarray(o, o + frame));
    if (t !== undefined) out.push({ type: t.type, atMs: t.atMs, detectedMs: vad.processedMs });
  }
  return out;
}
