/**
 * linphone (liblinphone 5.1: its own SIP, SDP, RTP and G.711) calls the production server's echo agent
 * (issue 10). Audio is checked on both sides: linphone records what it heard, and the server's own
 * recording (left: caller as received, right: agent as sent, on the call clock) shows what it heard and
 * when it answered. Hold/resume comes from linphone's `pause`/`resume` (re-INVITE a=sendonly, then
 * a=sendrecv).
 * Addresses: linphone 127.0.0.20, SIP 45020, RTP 45022.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile, writeWavFile, type WavAudio } from '../../src/media/wav.js';
import {
  alignWindows,
  channel,
  findAudio,
  soundMs,
  withSilence,
  type WindowAlignment,
} from '../support/audio-match.js';
import { eventually } from '../support/eventually.js';
import { Linphone } from '../support/linphone.js';
import { startTestServer, type TestServer } from '../support/server.js';

const HOST = '127.0.0.20';
const RATE = 8000;
const fixture = (name: string): Int16Array =>
  readWavFile(fileURLToPath(new URL(`../fixtures/audio/${name}`, import.meta.url))).samples;
const speech = fixture('caller-billing-question.wav');
const ms = (samples: number): number => (samples * 1000) / RATE;

interface EndedCall {
  readonly msg?: string;
  readonly reason?: string;
}
const endedCalls = (srv: TestServer): EndedCall[] =>
  srv.logs.map((l) => JSON.parse(l) as EndedCall).filter((e) => e.msg === 'call ended');

/**
 * A copy of the reference, give or take jitter-buffer slips: most 500 ms windows match sample for sample
 * (a window with a dropped frame inside scores lower), and the slips add up to at most 100 ms.
 */
function expectFaithful(w: WindowAlignment, figures: string): void {
  expect(w.windows.length, figures).toBeGreaterThanOrEqual(6);
  const exact = w.windows.filter((x) => x.score > 0.95).length;
  expect(exact, figures).toBeGreaterThanOrEqual(Math.ceil((2 * w.windows.length) / 3));
  expect(w.shiftSpreadMs, figures).toBeLessThanOrEqual(100);
}

describe('linphone calls the echo agent', () => {
  let srv: TestServer;
  let phone: Linphone | undefined;

  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: {
        'demo.yaml':
          'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, tools: { end_call: {} }, record: true }\n',
      },
    });
  });
  afterEach(async () => {
    await phone?.stop();
    phone = undefined;
  });
  afterAll(async () => {
    await srv?.close();
  });

  async function micFile(name: string, pcm: Int16Array): Promise<string> {
    const path = join(srv.recordingsDir, '..', `${name}.wav`);
    writeWavFile(path, { sampleRateHz: RATE, channels: 1, samples: pcm });
    return path;
  }

  /** The server's recording of the only call in progress (flushed every second while it runs). */
  async function serverRecording(): Promise<{ id: string; audio: () => WavAudio }> {
    let id = '';
    await eventually(async () => {
      const calls = (await srv.api('GET', '/v1/calls')).json.calls as Array<{ id: string }>;
      expect(calls).toHaveLength(1);
      id = calls[0]?.id ?? '';
    });
    return { id, audio: () => readWavFile(join(srv.recordingsDir, id, 'audio.wav')) };
  }

  /**
   * Waits until the server has sent a whole reply (the agent channel of its recording holds at least
   * `minMs` of sound, then a second of silence), and linphone has recorded about as much sound as was sent.
   * Returns what linphone heard.
   */
  async function replyHeard(p: Linphone, rec: { audio: () => WavAudio }, minMs: number): Promise<Int16Array> {
    let sentMs = 0;
    await eventually(() => {
      const agent = channel(rec.audio().samples, 1);
      sentMs = soundMs(agent, RATE);
      expect(sentMs).toBeGreaterThanOrEqual(minMs);
      expect(soundMs(agent.subarray(agent.length - RATE), RATE)).toBe(0);
    }, 25_000);
    let heard: Int16Array = new Int16Array(0);
    await eventually(async () => {
      heard = (await p.heard()).samples;
      expect(soundMs(heard, RATE)).toBeGreaterThanOrEqual(0.95 * sentMs);
    }, 5000);
    return heard;
  }

  it('hears its own speech echoed back, after it stopped talking (PCMU)', { timeout: 60_000 }, async () => {
    phone = await Linphone.start({
      sipHost: HOST,
      sipPort: 45020,
      rtpPort: 45022,
      codecs: ['PCMU'],
      playWav: await micFile('mic-echo', withSilence(speech, RATE, 500, 15_000)),
    });
    await phone.call(srv.uri('100'));
    const rec = await serverRecording();
    // The echo repeats the utterance minus the VAD's trimming: most of its sound comes back.
    const heard = await replyHeard(phone, rec, 0.8 * soundMs(speech, RATE));
    await phone.hangup();
    await eventually(() => expect(endedCalls(srv).at(-1)?.reason).toBe('caller-bye'));

    // What the server heard (left) and sent (right), on its call clock.
    const audio = rec.audio();
    const caller = channel(audio.samples, 0);
    const agent = channel(audio.samples, 1);
    const said = findAudio(speech, caller, RATE);
    const saidWindows = alignWindows(speech, caller, RATE, said.offsetMs);
    const answered = findAudio(speech, agent, RATE);
    const answeredWindows = alignWindows(speech, agent, RATE, answered.offsetMs);
    // What linphone heard: the echo, through two G.711 round trips and the agent's 8↔24 kHz resampling.
    const echo = findAudio(speech, heard, RATE);
    const echoWindows = alignWindows(speech, heard, RATE, echo.offsetMs);
    const figures = JSON.stringify({ said, saidWindows, answered, answeredWindows, echo, echoWindows });
    for (const w of [saidWindows, answeredWindows, echoWindows]) expectFaithful(w, figures);
    // On the call clock the echo starts only once the caller has finished (turn end after the VAD's
    // silence window): never over the caller, and within 2 s of the end of the utterance.
    const saidEndMs = said.offsetMs + ms(speech.length);
    expect(answered.offsetMs, figures).toBeGreaterThan(saidEndMs);
    expect(answered.offsetMs - saidEndMs, figures).toBeLessThan(2000);
  });
});
