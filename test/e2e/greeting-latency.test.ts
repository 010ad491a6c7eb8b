/**
 * Greeting timing and turn latency (issue 14), through the production server: sipp calls (PCMA) and sends
 * its first RTP 600 ms after the ACK; the OpenAI mock greets and answers two caller turns. Asserted in the
 * server's media time (ticks of its RTP clock): the greeting's first frame leaves ≤ 300 ms after the first
 * inbound RTP (wall time reported beside it), and /metrics has the turn-latency histogram with the two turns,
 * each at least the provider VAD's 300 ms silence window (the end of speech is placed in media time, before
 * that window), with Switchboard's inbound and outbound shares reported from the call-ended log.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile } from '../../src/media/wav.js';
import { eventually } from '../support/eventually.js';
import type { OpenAIMockServer } from '../support/openai-mock.js';
import { startOpenAIServerEnv, type OpenAIServerEnv } from '../support/openai-server-env.js';
import { metricsText, type TestServer } from '../support/server.js';
import { sippCaller } from '../support/sipp-caller.js';
import { fixture, fixturePcm, report } from './call-harness.js';

const RTP_DELAY_MS = 600;
/** The mock's energy VAD ends a turn after this much silence. */
const VAD_SILENCE_MS = 300;

describe('greeting within 300 ms of the first RTP; turn latency in /metrics', () => {
  let env: OpenAIServerEnv;
  let dir: string;
  let mock: OpenAIMockServer;
  let srv: TestServer;
  beforeAll(async () => {
    env = await startOpenAIServerEnv('greet', () => ['  greeting: Greet the caller.']);
    ({ dir, mock, srv } = env);
  });
  afterAll(() => env.close());

  it('greets ≤ 300 ms after the first inbound RTP, and measures both turns', async () => {
    const greeting = fixturePcm('agent-greeting.wav');
    const answer = fixturePcm('agent-goodbye.wav').subarray(0, 24_000 * 1.5);
    mock.enqueueTurn({ replyAudioPcm16: greeting });
    mock.enqueueTurn({ replyAudioPcm16: answer });
    mock.enqueueTurn({ replyAudioPcm16: answer });
    for (let i = 0; i < 4; i++) mock.enqueueTurn({ replyAudioPcm16: new Int16Array(0) });
    // Silence while the greeting plays, then one utterance, 4 s of silence, the same utterance again.
    const utterance = readWavFile(fixture('caller-transfer-request.wav')).samples;
    const gap = new Int16Array(8 * 4000);
    const speech = new Int16Array(8 * 5000 + utterance.length * 2 + gap.length);
    speech.set(utterance, 8 * 5000);
    speech.set(utterance, 8 * 5000 + utterance.length + gap.length);
    const callMs = RTP_DELAY_MS + speech.length / 8 + 3000;
    const caller = await sippCaller(srv, dir, {
      name: 'greet',
      ip: '127.0.1.32',
      speech,
      callMs,
      rtpDelayMs: RTP_DELAY_MS,
    });
    try {
      let latch: { tick: number; wallMs: number } | undefined;
      const media = caller.call.media;
      expect(media.latched, 'sipp sent RTP before the test could watch (raise RTP_DELAY_MS)').toBe(false);
      media.once('latched', () => (latch = { tick: caller.clock.ticks, wallMs: performance.now() }));
      const result = await caller.sipp.result;
      expect(result.exitCode).toBe(0);
      expect(latch).toBeDefined();
      const greetTick = caller.clock.firstSentFrom(latch!.tick);
      const first = caller.capture.packets[0]!;
      // Ticks are counted after each slot: a frame sent in the latch's own slot is < 20 ms after it.
      const greetMediaMs = (greetTick - latch!.tick + 1) * 20;
      const greetWallMs = first.arrivalMs - latch!.wallMs;
      const create = mock.received.find((m) => m.type === 'response.create');
      report('greeting', {
        greetMediaMsAtMost: greetMediaMs,
        greetTicksAfterLatch: greetTick - latch!.tick,
        greetWallMs,
        responseCreateAtMs: create?.atMs,
      });
      expect(greetTick).toBeGreaterThanOrEqual(latch!.tick);
      expect(greetMediaMs).toBeLessThanOrEqual(300);

      await eventually(() => expect(srv.server.calls.size).toBe(0), 5000);
      const metrics = await metricsText(srv);
      const count = /switchboard_turn_latency_seconds_count(\{[^}]*\})? (\d+)/.exec(metrics)?.[2];
      const inCount =
        /switchboard_turn_latency_share_seconds_count\{[^}]*direction="inbound"[^}]*\} (\d+)/.exec(
          metrics,
        )?.[1];
      const outCount =
        /switchboard_turn_latency_share_seconds_count\{[^}]*direction="outbound"[^}]*\} (\d+)/.exec(
          metrics,
        )?.[1];
      const ended = srv.logs
        .map((l) => JSON.parse(l) as Record<string, any>)
        .find((l) => l.msg === 'call ended');
      const turns = ended?.turnLatency as Record<string, number> | undefined;
      report('turn latency', { histogramCount: count, ...turns });
      expect(count).toBe('2');
      expect(inCount).toBe('2');
      expect(outCount).toBe('2');
      expect(turns?.turns).toBe(2);
      // The end of speech is placed where the caller stopped, before the provider's silence window.
      expect(turns!.p50Ms!).toBeGreaterThanOrEqual(VAD_SILENCE_MS - 20);
      expect(turns!.p95Ms!).toBeGreaterThanOrEqual(turns!.p50Ms!);
      expect(turns!.inboundP50Ms! + turns!.outboundP50Ms!).toBeLessThan(turns!.p50Ms!);
    } finally {
      await caller.close(2000);
    }
    expect(mock.violations).toEqual([]);
  }, 60_000);
});
