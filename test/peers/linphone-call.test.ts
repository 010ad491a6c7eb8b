/**
 * linphone (liblinphone 5.1: its own SIP, SDP, RTP and G.711) calls the production server's echo agent
 * (issue 10). Audio is checked on both sides: linphone records what it heard, and the server's own
 * recording (left: caller as received, right: agent as sent, on the call clock) shows what it heard and
 * when it answered. Hold/resume comes from linphone's `pause`/`resume` (re-INVITE a=sendonly, then
 * a=sendrecv).
 * Addresses: linphone 127.0.0.20, SIP 45020, RTP 45022.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile } from '../../src/media/wav.js';
import { findAudio, soundMs, withSilence } from '../support/audio-match.js';
import {
  alignForFaithful,
  endedCalls,
  expectFaithful,
  micFile,
  replyHeard,
  serverRecording,
} from '../support/call-audio.js';
import { eventually } from '../support/eventually.js';
import { Linphone } from '../support/linphone.js';
import { startTestServer, type TestServer } from '../support/server.js';

const HOST = '127.0.0.20';
const RATE = 8000;
const fixture = (name: string): Int16Array =>
  readWavFile(fileURLToPath(new URL(`../fixtures/audio/${name}`, import.meta.url))).samples;
const speech = fixture('caller-billing-question.wav');
const ms = (samples: number): number => (samples * 1000) / RATE;

describe('linphone calls the echo agent', () => {
  let srv: TestServer;
  let phone: Linphone | undefined;
  let tmp: string;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sb-linphone-'));
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
    await rm(tmp, { recursive: true, force: true });
  });

  it('hears its own speech echoed back, after it stopped talking (PCMU)', { timeout: 60_000 }, async () => {
    phone = await Linphone.start({
      sipHost: HOST,
      sipPort: 45020,
      rtpPort: 45022,
      codecs: ['PCMU'],
      playWav: await micFile(tmp, 'mic-echo', withSilence(speech, RATE, 500, 15_000), RATE),
    });
    await phone.call(srv.uri('100'));
    const rec = await serverRecording(srv);
    const p = phone;
    // The echo repeats the utterance minus the VAD's trimming: most of its sound comes back.
    const heard = await replyHeard(
      rec,
      async () => (await p.heard()).samples,
      RATE,
      0.8 * soundMs(speech, RATE),
    );
    await phone.hangup();
    await eventually(() => expect(endedCalls(srv).at(-1)?.reason).toBe('caller-bye'));

    // What the server heard (left) and sent (right), on its call clock.
    const { caller, agent } = rec.read();
    const said = findAudio(speech, caller, RATE);
    const saidWindows = alignForFaithful(speech, caller, RATE, said.offsetMs);
    const answered = findAudio(speech, agent, RATE);
    const answeredWindows = alignForFaithful(speech, agent, RATE, answered.offsetMs);
    // What linphone heard: the echo, through two G.711 round trips and the agent's 8↔24 kHz resampling.
    const echo = findAudio(speech, heard, RATE);
    const echoWindows = alignForFaithful(speech, heard, RATE, echo.offsetMs);
    const figures = JSON.stringify({ said, saidWindows, answered, answeredWindows, echo, echoWindows });
    for (const w of [saidWindows, answeredWindows, echoWindows]) expectFaithful(w, figures);
    // On the call clock the echo starts only once the caller has finished (turn end after the VAD's
    // silence window): never over the caller, and within 2 s of the end of the utterance.
    const saidEndMs = said.offsetMs + ms(speech.length);
    expect(answered.offsetMs, figures).toBeGreaterThan(saidEndMs);
    expect(answered.offsetMs - saidEndMs, figures).toBeLessThan(2000);
  });
});
