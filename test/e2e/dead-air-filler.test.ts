/**
 * No dead air while a tool runs (issue 14), through the production server: sipp calls with caller speech
 * (pcap, PCMA), the OpenAI mock answers with a call of a webhook whose HTTP receiver on loopback takes 3 s.
 * Asserted in the server's media time (ticks of its RTP clock, and RTP timestamps on the caller's side):
 * the filler clip's audio reaches the caller `filler_after_ms` (±40 ms) after the webhook was called, hold
 * audio follows it without a gap, and both stop at the first frame of the tool result's reply.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile } from '../../src/media/wav.js';
import { findAudio } from '../support/audio-match.js';
import { eventually } from '../support/eventually.js';
import type { OpenAIMockServer } from '../support/openai-mock.js';
import { startOpenAIServerEnv, type OpenAIServerEnv } from '../support/openai-server-env.js';
import { metricsText, type TestServer } from '../support/server.js';
import { sippCaller } from '../support/sipp-caller.js';
import { decimate24kTo8k, tone, toneFraction, writeClip } from '../support/turn-audio.js';
import { fixture, fixturePcm, report } from './call-harness.js';

const FILLER_AFTER_MS = 500;
const TOOL_MS = 3000;
const HOLD_HZ = 1000;

describe('a slow webhook: filler, then hold audio, until the reply', () => {
  let env: OpenAIServerEnv;
  let dir: string;
  let hook: Server;
  let onHook: () => void = () => undefined;
  let mock: OpenAIMockServer;
  let srv: TestServer;
  let fillerClip: Int16Array;

  beforeAll(async () => {
    hook = createServer((req, res) => {
      onHook();
      req.resume();
      req.on('end', () =>
        setTimeout(() => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ status: 'shipped' }));
        }, TOOL_MS),
      );
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookPort = (hook.address() as { port: number }).port;
    // The filler: 700 ms of the greeting voice at 8 kHz; the hold: a 400 ms 1 kHz tone, looped.
    fillerClip = decimate24kTo8k(fixturePcm('agent-greeting.wav')).subarray(0, 5600);
    env = await startOpenAIServerEnv('filler', (d) => [
      '  tools:',
      `    filler_after_ms: ${FILLER_AFTER_MS}`,
      `    filler: { audio: ${JSON.stringify(writeClip(join(d, 'filler.wav'), fillerClip))} }`,
      `    hold_audio: ${JSON.stringify(writeClip(join(d, 'hold.wav'), tone(HOLD_HZ, -12, 400)))}`,
      '    webhooks:',
      '      - name: lookup_order',
      `        url: http://127.0.0.1:${hookPort}/order`,
      '        description: Look up an order',
      '        allow_private: true',
      '        timeout_ms: 10000',
    ]);
    ({ dir, mock, srv } = env);
  });
  afterAll(async () => {
    await env.close();
    hook.closeAllConnections();
    hook.close();
  });

  it('the caller hears the filler after filler_after_ms, hold audio, and the reply with no dead air', async () => {
    const reply = fixturePcm('agent-goodbye.wav');
    mock.enqueueTurn({
      replyAudioPcm16: new Int16Array(0),
      toolCall: { name: 'lookup_order', args: { id: 'A17' } },
    });
    mock.enqueueTurn({ replyAudioPcm16: reply, replyText: 'You are welcome.' });
    for (let i = 0; i < 4; i++) mock.enqueueTurn({ replyAudioPcm16: new Int16Array(0) });

    const speech = readWavFile(fixture('caller-transfer-request.wav')).samples;
    const caller = await sippCaller(srv, dir, { name: 'filler', ip: '127.0.1.30', speech, callMs: 14_000 });
    try {
      // The tool call, on the server's media clock: when the mock sent its arguments (loopback, same process).
      let callTick = -1;
      let hookTick = -1;
      mock.onServerEvent = (type) => {
        if (type === 'response.function_call_arguments.done') callTick = caller.clock.ticks;
      };
      onHook = () => (hookTick = caller.clock.ticks);
      // Server-side item starts (tick, item): the filler, the hold loops, the reply.
      const starts: Array<{ tick: number; itemId: string; responseId: string }> = [];
      const playout = caller.call.media.playout;
      playout.on('itemStarted', (item) => starts.push({ tick: caller.clock.ticks, ...item }));
      const replyItem = () => starts.find((s) => !s.responseId.startsWith('filler-'));
      await eventually(() => expect(replyItem()).toBeDefined(), 15_000);
      const replyFrames = Math.floor(reply.length / 480);
      await eventually(() => {
        const frames = replyItem()!.tick - starts[0]!.tick + replyFrames;
        // Waiting for the reply's end to arrive: a packet lost on a starved loopback must not stall the wait.
        expect(caller.capture.packets.length).toBeGreaterThanOrEqual(frames - 2);
      }, 10_000);

      const fillerStart = starts.find((s) => s.itemId.includes('-filler-'));
      const holdStarts = starts.filter((s) => s.itemId.includes('-hold-'));
      const replyStart = replyItem()!;
      expect(callTick).toBeGreaterThanOrEqual(0);
      expect(hookTick).toBeGreaterThanOrEqual(callTick);
      expect(fillerStart).toBeDefined();
      // 'itemStarted' fires as the frame is handed to the socket, in the tick being counted.
      const fillerAfterMs = (fillerStart!.tick - callTick) * 20;
      const replyAfterHookMs = (replyStart.tick - hookTick) * 20;

      // The caller's side, placed by RTP timestamp from the first packet (the filler's: nothing played before).
      const audio = caller.capture.packets.filter((p) => p.payloadType === 8);
      const heard = caller.capture.pcmaByTimestamp();
      const fillerMatch = findAudio(fillerClip, heard.subarray(0, 8000), 8000);
      const replyOffset = (replyStart.tick - fillerStart!.tick) * 160;
      const replyMatch = findAudio(decimate24kTo8k(reply), heard.subarray(replyOffset - 800), 8000);
      const holdFraction = toneFraction(heard, fillerClip.length + 800, replyOffset - 160, HOLD_HZ);
      const replyToneFraction = toneFraction(heard, replyOffset, replyOffset + 16_000, HOLD_HZ);
      let gapMs = 0;
      const t0 = audio[0]!.timestamp;
      for (let i = 1; i < audio.length; i++) {
        if ((audio[i]!.timestamp - t0) >>> 0 > replyOffset + 160) break;
        gapMs = Math.max(gapMs, ((audio[i]!.timestamp - audio[i - 1]!.timestamp) >>> 0) / 8 - 20);
      }
      report('filler', {
        fillerAfterMs,
        webhookAfterCallMs: (hookTick - callTick) * 20,
        replyAfterHookMs,
        holdLoops: holdStarts.length,
        fillerWaveform: fillerMatch.waveformScore,
        fillerOffsetMs: fillerMatch.offsetMs,
        holdToneFraction: holdFraction,
        replyToneFraction,
        replyEnvelope: replyMatch.envelopeScore,
        replyWaveform: replyMatch.waveformScore,
        replyOffsetMs: replyMatch.offsetMs - 100,
        maxGapMs: gapMs,
      });
      expect(Math.abs(fillerAfterMs - FILLER_AFTER_MS)).toBeLessThanOrEqual(40);
      // The caller heard the filler clip itself, from its first sample.
      expect(fillerMatch.waveformScore).toBeGreaterThan(0.9);
      expect(Math.abs(fillerMatch.offsetMs)).toBeLessThanOrEqual(20);
      // Hold audio filled the rest of the wait; the reply came once the 3 s tool returned.
      expect(holdStarts.length).toBeGreaterThanOrEqual(3);
      expect(holdFraction).toBeGreaterThan(0.8);
      expect(replyAfterHookMs).toBeGreaterThanOrEqual(TOOL_MS);
      // The reply starts where the hold stopped: no tone in it, no dead air before it.
      // (By its envelope: the server may transcode the provider's audio, so samples differ from the mock's.)
      expect(replyMatch.envelopeScore).toBeGreaterThan(0.9);
      expect(Math.abs(replyMatch.offsetMs - 100)).toBeLessThanOrEqual(40);
      expect(replyToneFraction).toBeLessThan(0.2);
      expect(gapMs).toBeLessThanOrEqual(20);
      // The tool's result reached the provider.
      await mock.waitForMessage('conversation.item.create', (m) =>
        JSON.stringify(m).includes('function_call_output'),
      );
    } finally {
      await caller.close();
    }
    await eventually(() => expect(srv.server.calls.size).toBe(0), 5000);
    const metrics = await metricsText(srv);
    expect(metrics).toMatch(/switchboard_fillers_total\{kind="filler"[^}]*\} 1\b/);
    expect(metrics).toMatch(/switchboard_fillers_total\{kind="hold"[^}]*\} [3-9]\b/);
    expect(mock.violations).toEqual([]);
  }, 40_000);
});
