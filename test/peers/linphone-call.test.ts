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
import { soundMs, withSilence } from '../support/audio-match.js';
import {
  endedCalls,
  expectFaithful,
  locate,
  micFile,
  replyHeard,
  serverRecording,
} from '../support/call-audio.js';
import { eventually } from '../support/eventually.js';
import { answerTo, Linphone, loggedSipMessages, sdpDirection } from '../support/linphone.js';
import { startTestServer, type TestServer } from '../support/server.js';

const HOST = '127.0.0.20';
const RATE = 8000;
const fixture = (name: string): Int16Array =>
  readWavFile(fileURLToPath(new URL(`../fixtures/audio/${name}`, import.meta.url))).samples;
const speech = fixture('caller-billing-question.wav');
const holdMusic = fixture('caller-interrupt.wav');
const afterHold = fixture('caller-account-number.wav');
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

  /** linphone on PCMU only, with `mic` as its microphone (stopped after each test). */
  async function startPhone(mic: string): Promise<Linphone> {
    phone = await Linphone.start({
      sipHost: HOST,
      sipPort: 45020,
      rtpPort: 45022,
      codecs: ['PCMU'],
      playWav: mic,
    });
    return phone;
  }

  it('hears its own speech echoed back, after it stopped talking (PCMU)', { timeout: 60_000 }, async () => {
    const p = await startPhone(await micFile(tmp, 'mic-echo', withSilence(speech, RATE, 500, 15_000), RATE));
    await p.call(srv.uri('100'));
    const rec = await serverRecording(srv);
    // The echo repeats the utterance minus the VAD's trimming: most of its sound comes back.
    const heard = await replyHeard(
      rec,
      async () => (await p.heard()).samples,
      RATE,
      0.8 * soundMs(speech, RATE),
    );
    await p.hangup();
    await eventually(() => expect(endedCalls(srv).at(-1)?.reason).toBe('caller-bye'));

    // What the server heard (left) and sent (right), on its call clock.
    const { caller, agent } = rec.read();
    const said = locate(speech, caller, RATE);
    const answered = locate(speech, agent, RATE);
    // What linphone heard: the echo, through two G.711 round trips and the agent's 8↔24 kHz resampling.
    const echo = locate(speech, heard, RATE);
    const figures = JSON.stringify({ said, answered, echo });
    for (const w of [said, answered, echo]) expectFaithful(w.windows, figures);
    // On the call clock the echo starts only once the caller has finished (turn end after the VAD's
    // silence window): never over the caller, and within 2 s of the end of the utterance.
    const saidEndMs = said.offsetMs + ms(speech.length);
    expect(answered.offsetMs, figures).toBeGreaterThan(saidEndMs);
    expect(answered.offsetMs - saidEndMs, figures).toBeLessThan(2000);
  });

  it(
    'pause/resume: hold is answered recvonly, nothing is sent while held, speech after resume is echoed',
    { timeout: 90_000 },
    async () => {
      const p = await startPhone(
        await micFile(tmp, 'mic-before-hold', withSilence(speech, RATE, 500, 30_000), RATE),
      );
      await p.call(srv.uri('100'));
      const rec = await serverRecording(srv);
      await replyHeard(rec, async () => (await p.heard()).samples, RATE, 0.8 * soundMs(speech, RATE));

      // Hold: linphone streams its `play` file as music on hold (real speech, which the agent must not
      // hear as the caller talking), and records whatever still arrives.
      p.play(await micFile(tmp, 'mic-hold-music', withSilence(holdMusic, RATE, 300, 30_000), RATE));
      const heardOnHold = p.record();
      await p.pause();
      const holdFromMs = ms(rec.read().agent.length);
      // Hold for the whole hold music plus 1.5 s on the call clock (what an echo of it would need).
      await eventually(() => {
        expect(ms(rec.read().agent.length) - holdFromMs).toBeGreaterThan(ms(holdMusic.length) + 1800);
      }, 25_000);
      p.play(await micFile(tmp, 'mic-after-hold', withSilence(afterHold, RATE, 500, 30_000), RATE));
      const heardAfter = p.record();
      await p.resume();
      // The recording lags the call by up to a flush interval: this is at or before the real resume.
      const holdToMs = ms(rec.read().agent.length);
      const heard = await replyHeard(
        rec,
        async () => (await p.heard(heardAfter)).samples,
        RATE,
        0.8 * soundMs(afterHold, RATE),
        holdToMs,
      );
      await p.hangup();
      await eventually(() => expect(endedCalls(srv).at(-1)?.reason).toBe('caller-bye'));

      // Signalling (linphone's log): RFC 3264 §6.1 — a sendonly offer is answered recvonly (or inactive),
      // the resuming sendrecv offer sendrecv.
      const messages = loggedSipMessages(await p.sipLog());
      const offers = messages.filter((m) => m.direction === 'sent' && m.startLine.startsWith('INVITE '));
      const directions = offers.map(
        (o) => [sdpDirection(o.text), answerTo(messages, o)?.text ?? ''] as const,
      );
      const summary = directions.map(
        ([offer, answer]) => `${offer} → ${answer === '' ? '(none)' : sdpDirection(answer)}`,
      );
      expect(summary, summary.join('; ')).toHaveLength(3);
      expect(directions[1]?.[0]).toBe('sendonly');
      expect(['recvonly', 'inactive'], summary.join('; ')).toContain(sdpDirection(directions[1]?.[1] ?? ''));
      expect(directions[2]?.[0]).toBe('sendrecv');
      expect(sdpDirection(directions[2]?.[1] ?? ''), summary.join('; ')).toBe('sendrecv');

      // Media (the server's recording, call clock): nothing sent toward the held caller, the hold music
      // never echoed (now or after resume), and the speech after resume heard and echoed intact.
      const { caller, agent } = rec.read();
      const held = agent.subarray(
        Math.round((holdFromMs * RATE) / 1000),
        Math.round((holdToMs * RATE) / 1000),
      );
      const music = locate(holdMusic, agent, RATE);
      const said = locate(afterHold, caller, RATE);
      const answered = locate(afterHold, agent, RATE);
      const echo = locate(afterHold, heard, RATE);
      const figures = JSON.stringify({ holdFromMs, holdToMs, music, said, answered, echo });
      expect(held.length, figures).toBeGreaterThan(RATE * 2);
      expect(soundMs(held, RATE), figures).toBe(0);
      expect(music.windows.windows.filter((w) => w.score > 0.95).length, figures).toBeLessThanOrEqual(1);
      expect(said.offsetMs, figures).toBeGreaterThan(holdToMs - 1000);
      for (const w of [said, answered, echo]) expectFaithful(w.windows, figures);
      expect(answered.offsetMs, figures).toBeGreaterThan(said.offsetMs + ms(afterHold.length));
      // While held linphone hears nothing it could take for the agent (its paused stream records little).
      const onHold = (await p.heard(heardOnHold).catch(() => ({ samples: new Int16Array(0) }))).samples;
      expect(soundMs(onHold, RATE), figures).toBe(0);
    },
  );
});
