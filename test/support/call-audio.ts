/**
 * Audio checks shared by the real-peer tests (test/peers/): the server's own recording of a call
 * (audio.wav, left = caller as received, right = agent as sent, on the call clock; flushed every second,
 * so readable while the call runs), waiting for a whole agent reply to have been sent and heard, and the
 * "faithful copy" criterion for a windowed alignment.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { encodeWav, readWavFile } from '../../src/media/wav.js';
import {
  alignWindows,
  channel,
  findAudio,
  soundMs,
  type AudioMatch,
  type WindowAlignment,
} from './audio-match.js';
import { eventually } from './eventually.js';
import type { TestServer } from './server.js';

export interface EndedCall {
  readonly msg?: string;
  readonly reason?: string;
  readonly rtp?: { readonly packetsReceived?: number };
}

/** The server's "call ended" log records, oldest first. */
export function endedCalls(srv: TestServer): EndedCall[] {
  return srv.logs.map((l) => JSON.parse(l) as EndedCall).filter((e) => e.msg === 'call ended');
}

export interface ServerRecording {
  readonly id: string;
  readonly sampleRateHz: number;
  /** Both channels as recorded so far. */
  read(): { readonly caller: Int16Array; readonly agent: Int16Array };
}

/**
 * The recording of the only call in progress (the dialplan must say `record: true`), in
 * RECORDINGS_DIR/<tenant>/<callId>/ (or RECORDINGS_DIR/<callId>/, the layout before per-tenant folders).
 */
export async function serverRecording(srv: TestServer): Promise<ServerRecording> {
  let call = { id: '', tenant: '' };
  await eventually(async () => {
    const calls = (await srv.api('GET', '/v1/calls')).json.calls as Array<{ id: string; tenant: string }>;
    expect(calls).toHaveLength(1);
    call = calls[0] ?? call;
  });
  const id = call.id;
  const candidates = [join(srv.recordingsDir, call.tenant, id), join(srv.recordingsDir, id)];
  let path = '';
  let sampleRateHz = 0;
  await eventually(() => {
    const dir = candidates.find((d) => existsSync(join(d, 'audio.wav')));
    expect(dir, `no audio.wav in ${candidates.join(' or ')}`).toBeDefined();
    path = join(dir ?? '', 'audio.wav');
    sampleRateHz = readWavFile(path).sampleRateHz;
  });
  return {
    id,
    sampleRateHz,
    read() {
      const audio = readWavFile(path);
      return { caller: channel(audio.samples, 0), agent: channel(audio.samples, 1) };
    },
  };
}

/**
 * Waits until the server has sent a whole reply (the agent channel holds at least `minMs` of sound, then
 * a second of silence) and the peer has recorded about as much sound (95 %) as was sent. Returns what the
 * peer heard.
 */
export async function replyHeard(
  rec: ServerRecording,
  heard: () => Promise<Int16Array>,
  heardRateHz: number,
  minMs: number,
  /** Count only what the agent sent from this point of the call clock on (a reply after an earlier one). */
  fromMs = 0,
): Promise<Int16Array> {
  let sentMs = 0;
  await eventually(() => {
    const { agent } = rec.read();
    sentMs = soundMs(agent.subarray(Math.round((fromMs * rec.sampleRateHz) / 1000)), rec.sampleRateHz);
    expect(sentMs).toBeGreaterThanOrEqual(minMs);
    expect(soundMs(agent.subarray(agent.length - rec.sampleRateHz), rec.sampleRateHz)).toBe(0);
  }, 25_000);
  let got: Int16Array = new Int16Array(0);
  await eventually(async () => {
    got = await heard();
    expect(soundMs(got, heardRateHz)).toBeGreaterThanOrEqual(0.95 * sentMs);
  }, 5000);
  return got;
}

/** Window length for {@link alignWindows} in these checks: short, so one slipped frame spoils one window. */
export const FAITHFUL_WINDOW_MS = 200;

/**
 * A copy of the reference, give or take jitter-buffer slips (adaptive playout drops or inserts whole
 * frames; on this shared 2-core machine that happens every second or so): at least 60 % of the 200 ms
 * windows match sample for sample (> 0.95; unrelated speech scores < 0.3), and the slips add up to at most
 * 250 ms over the utterance.
 */
export function expectFaithful(w: WindowAlignment, figures: string): void {
  expect(w.windows.length, figures).toBeGreaterThanOrEqual(10);
  const exact = w.windows.filter((x) => x.score > 0.95).length;
  expect(exact, figures).toBeGreaterThanOrEqual(Math.ceil(0.6 * w.windows.length));
  expect(w.shiftSpreadMs, figures).toBeLessThanOrEqual(250);
}

export interface Located extends AudioMatch {
  /** Per-window alignment around `offsetMs`, for {@link expectFaithful}. */
  readonly windows: WindowAlignment;
}

/** Where `reference` is in `signal`, with the windowed alignment {@link expectFaithful} checks. */
export function locate(reference: Int16Array, signal: Int16Array, sampleRateHz: number): Located {
  const at = findAudio(reference, signal, sampleRateHz);
  return {
    ...at,
    windows: alignWindows(reference, signal, sampleRateHz, at.offsetMs, FAITHFUL_WINDOW_MS, 300),
  };
}

/** Writes mono PCM16 as a WAV a peer can play as its microphone; returns the path. */
export async function micFile(
  dir: string,
  name: string,
  pcm: Int16Array,
  sampleRateHz: number,
): Promise<string> {
  const path = join(dir, `${name}.wav`);
  await writeFile(path, encodeWav({ sampleRateHz, channels: 1, samples: pcm }));
  return path;
}
