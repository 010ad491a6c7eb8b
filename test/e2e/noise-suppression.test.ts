/**
 * Issue 14, noise suppression over SIP: a sipp caller plays a pcap of noisy speech (the caller fixtures with
 * pauses, pink + brown noise + 50 Hz hum at 6 dB SNR: test/media/dsp/noise-fixture.ts; packetized as PCMA by
 * test/support/rtp-peer.ts, none of the server's RTP code) to the production server, whose agent is the
 * OpenAI Realtime mock. The call is G.711 end to end, so without clean-up the provider gets the caller's bytes
 * untouched; with `audio.noise_suppression: true` they are decoded, cleaned and encoded again.
 *
 * What the provider heard is rebuilt from the `input_audio_buffer.append` messages the mock received (A-law,
 * decoded here with the alawmulaw package), aligned with the sent speech by its energy envelope, and measured
 * over the scene's 20 ms frames: pauses (no speech within 40 ms, after the first second) and speech frames.
 * With the suppressor the pauses must be ≥ 10 dB quieter than what was sent and speech within 4 dB of it; the
 * same call without it (the control, so the test can fail) shows no attenuation (within 1 dB).
 * Addresses: callers on 127.0.1.10 and 127.0.1.11 (this test's block).
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alaw } from 'alawmulaw';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findAudio } from '../support/audio-match.js';
import { eventually } from '../support/eventually.js';
import { freePortPair } from '../support/free-port.js';
import { waitForLiveCall } from '../support/live-call.js';
import { startOpenAIMock, type OpenAIMockServer } from '../support/openai-mock.js';
import { RtpCapture, pcapCallerScenario } from '../support/rtp-peer.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { describeSipp, startSipp } from '../support/sipp.js';
import { db, noisyScene, powerOver } from '../media/dsp/noise-fixture.js';

const RATE = 8000;
const scene = noisyScene({ sampleRateHz: RATE, snrDb: 6 });
const FS = scene.frameSamples;
const PAUSES = scene.pauseFrames.filter((f) => f * FS >= RATE);

function profile(tenant: string, number: string, on: boolean): string {
  return [
    `tenant: ${tenant}`,
    `numbers: ["${number}"]`,
    'agent:',
    '  provider: openai',
    `  audio: { noise_suppression: ${on} }`,
  ].join('\n');
}

interface Heard {
  readonly pauseDb: number;
  readonly speechDb: number;
  readonly offsetMs: number;
  readonly envelopeScore: number;
  readonly heardMs: number;
  readonly noise: { hops?: number; noiseDbfs?: number } | undefined;
  readonly passthrough: boolean;
}

describe('noise suppression over SIP (issue 14): the provider hears the caller without the background', () => {
  let srv: TestServer;
  let dir: string;
  const mocks: OpenAIMockServer[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-noise-'));
    srv = await startTestServer({
      logLevel: 'info',
      dialplans: { 'on.yaml': profile('ns-on', '600', true), 'off.yaml': profile('ns-off', '601', false) },
    });
  });
  afterAll(async () => {
    await srv?.close();
    for (const m of mocks) await m.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function noisyCall(tenant: string, number: string, ip: string): Promise<Heard> {
    const mock = await startOpenAIMock({ mode: 'ga' });
    mocks.push(mock);
    await srv.server.store.putCredential(tenant, 'openai', { apiKey: 'sk-test', url: mock.url });
    const sipPort = await freePortPair(
      ip,
      Array.from({ length: 20 }, () => 47000 + 2 * randomInt(0, 500)),
    );
    const mediaPort = 49000 + 20 * randomInt(0, 50);
    const rtp = await RtpCapture.open(ip, mediaPort + 10);
    try {
      const scenario = await pcapCallerScenario(dir, tenant, {
        speech: scene.noisy,
        packetMs: 20,
        ptimeMs: 20,
        callMs: Math.round((scene.noisy.length / RATE) * 1000) + 1500,
      });
      const sipp = startSipp({
        scenario,
        target: `127.0.0.1:${srv.sipPort}`,
        localIp: ip,
        localPort: sipPort,
        mediaIp: ip,
        mediaPort,
        service: number,
        timeoutMs: 60_000,
      });
      // The session says whether G.711 goes to the provider untouched (it must not with the suppressor on).
      const passthrough = (await waitForLiveCall(srv, (c) => c.tenant === tenant, 10_000)).session
        .passthrough;
      const r = await sipp.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);
      let ended: { noise?: Heard['noise'] } | undefined;
      await eventually(() => {
        const line = srv.logs.find(
          (l) => l.includes('"msg":"call ended"') && l.includes(`"tenant":"${tenant}"`),
        );
        expect(line).toBeDefined();
        ended = JSON.parse(line!) as { noise?: Heard['noise'] };
      }, 10_000);
      expect(mock.violations).toEqual([]);
      // What the provider heard, in order of arrival (one append per 20 ms frame).
      const chunks = mock.received
        .filter((m) => m.type === 'input_audio_buffer.append')
        .map((m) => alaw.decode(Buffer.from((m.message as { audio: string }).audio, 'base64')));
      const heard = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        heard.set(c, at);
        at += c.length;
      }
      // Where the sent scene starts in what was heard (the first packets go to RTP probation).
      const match = findAudio(scene.clean, heard, RATE, 0.9);
      const offset = Math.round((match.offsetMs * RATE) / 1000);
      return {
        pauseDb: db(powerOver(heard, PAUSES, FS, offset) / powerOver(scene.noisy, PAUSES, FS)),
        speechDb: db(
          powerOver(heard, scene.speechFrames, FS, offset) / powerOver(scene.noisy, scene.speechFrames, FS),
        ),
        offsetMs: match.offsetMs,
        envelopeScore: match.envelopeScore,
        heardMs: (heard.length / RATE) * 1000,
        noise: ended?.noise,
        passthrough,
      };
    } finally {
      await rtp.close();
    }
  }

  it(
    'with noise_suppression the pauses reach the provider ≥ 10 dB quieter and speech within 4 dB (control: off, unchanged)',
    { timeout: 90_000 },
    async () => {
      const [on, off] = await Promise.all([
        noisyCall('ns-on', '600', '127.0.1.10'),
        noisyCall('ns-off', '601', '127.0.1.11'),
      ]);
      const figures =
        `[noise-suppression e2e] on: pauses ${on.pauseDb.toFixed(1)} dB, speech ${on.speechDb.toFixed(1)} dB vs sent ` +
        `(offset ${on.offsetMs} ms, envelope ${on.envelopeScore.toFixed(2)}, ${on.heardMs} ms heard, noise ${JSON.stringify(on.noise)}); ` +
        `off: pauses ${off.pauseDb.toFixed(1)} dB, speech ${off.speechDb.toFixed(1)} dB (offset ${off.offsetMs} ms, ` +
        `envelope ${off.envelopeScore.toFixed(2)}, ${off.heardMs} ms heard); ${PAUSES.length} pause / ${scene.speechFrames.length} speech frames`;
      console.info(figures);
      // Both calls were found in what the provider heard, nearly all of the scene.
      for (const c of [on, off]) {
        expect(c.envelopeScore, figures).toBeGreaterThan(0.8);
        expect(c.heardMs, figures).toBeGreaterThanOrEqual(0.9 * (scene.noisy.length / RATE) * 1000);
      }
      // The control: G.711 straight through, nothing attenuated.
      expect(Math.abs(off.pauseDb), figures).toBeLessThanOrEqual(1);
      expect(Math.abs(off.speechDb), figures).toBeLessThanOrEqual(1);
      expect(off.noise, figures).toBeUndefined();
      expect(off.passthrough, figures).toBe(true);
      // With the suppressor.
      expect(on.passthrough, figures).toBe(false);
      expect(on.pauseDb, figures).toBeLessThanOrEqual(-10);
      expect(Math.abs(on.speechDb), figures).toBeLessThanOrEqual(4);
      expect(on.noise?.hops, figures).toBeGreaterThan(0.9 * (scene.noisy.length / (RATE / 100)));
    },
  );
});
