/**
 * Issue 5 acceptance with a real SIP caller (the softphone, PCMU) and the OpenAI Realtime mock (GA): G.711
 * passthrough, barge-in measured in media time, and the truncate point against what the caller received.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Softphone } from '../../src/softphone/softphone.js';
import { startOpenAIMock, type OpenAIMockServer } from '../support/openai-mock.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  closePhone,
  fixture,
  fixturePcm,
  recordingDbfs,
  report,
  runBargeInCall,
  silentTurn,
  startPhone,
  TickRecorder,
} from './call-harness.js';

const FRAME_MS = 20;

describe('a SIP call to the OpenAI mock (GA, PCMU passthrough)', () => {
  let mock: OpenAIMockServer;
  let srv: TestServer;
  let phone: Softphone;
  beforeAll(async () => {
    srv = await startTestServer({
      logLevel: 'info',
      dialplans: {
        'acme.yaml': [
          'tenant: acme',
          'numbers: ["*"]',
          'agent:',
          '  provider: openai',
          '  barge_in: { enabled: true }',
          '  tools: { end_call: {} }',
        ].join('\n'),
      },
    });
    phone = await startPhone(45100);
  });
  // A fresh mock per test: its scripted turns must not leak into the next call.
  beforeEach(async () => {
    mock = await startOpenAIMock({ mode: 'ga' });
    await srv.server.store.putCredential('acme', 'openai', { apiKey: 'sk-test', url: mock.url });
  });
  afterEach(async () => {
    await mock.close();
    expect(mock.violations).toEqual([]);
  });
  afterAll(async () => {
    await closePhone(phone);
    await srv.close();
  });

  it('stops agent audio at barge-in and truncates at what the caller received', async () => {
    // The mock's VAD (300 ms silence) hears two turns in the billing question: the first reply is silent,
    // the second is the long answer; the interrupt's own two turns get silent replies.
    mock.enqueueTurn(silentTurn);
    mock.enqueueTurn({
      replyAudioPcm16: fixturePcm('agent-long-answer.wav'),
      replyText: 'Sure. Your last bill',
    });
    for (let i = 0; i < 4; i++) mock.enqueueTurn(silentTurn);

    const m = await runBargeInCall(srv, phone, mock);

    // 5. G.711 passthrough: no resampler on this call, and the mock was told audio/pcmu both ways.
    expect(m.session.passthrough).toBe(true);
    expect(m.session.resamplerInstantiated).toBe(false);
    const update = (await mock.waitForMessage('session.update')) as {
      session: { audio?: { input?: { format?: { type: string } }; output?: { format?: { type: string } } } };
    };
    expect(update.session.audio?.input?.format?.type).toBe('audio/pcmu');
    expect(update.session.audio?.output?.format?.type).toBe('audio/pcmu');

    // (a) Agent audio stops within 60 ms (3 frames) of the server handling speech_started.
    const afterBargeInMs = (m.lastAgentTick - m.bargeInTick) * FRAME_MS;
    // The provider's onset mapped onto the softphone clock: the provider had received
    // providerAudioMsAtBargeIn ms of caller audio when the server handled the event at bargeInTick.
    const onsetTick =
      m.bargeInTick -
      (m.providerAudioMsAtBargeIn - (m.audioStartMs ?? m.providerAudioMsAtBargeIn)) / FRAME_MS;
    const afterOnsetMs = (m.lastAgentTick - onsetTick) * FRAME_MS;
    // (b) The truncate point against the agent frames the caller actually received.
    const truncate = (await mock.waitForMessage('conversation.item.truncate')) as { audio_end_ms: number };
    const receivedMs = m.agentPackets * FRAME_MS;
    report('openai barge-in', {
      replyStartTick: m.replyStartTick,
      interruptSentTick: m.interruptSentTick,
      bargeInTick: m.bargeInTick,
      lastAgentTick: m.lastAgentTick,
      agentMsAfterBargeIn: afterBargeInMs,
      agentMsAfterProviderOnset: afterOnsetMs,
      audioStartMs: m.audioStartMs,
      providerAudioMsAtBargeIn: m.providerAudioMsAtBargeIn,
      playedMs: m.playedMs,
      truncateAudioEndMs: truncate.audio_end_ms,
      receivedAgentMs: receivedMs,
      truncateErrorMs: truncate.audio_end_ms - receivedMs,
    });
    expect(m.interruptSentTick - m.replyStartTick).toBeGreaterThanOrEqual(150);
    expect(m.bargeInTick).toBeGreaterThan(m.interruptSentTick);
    expect(afterBargeInMs).toBeLessThanOrEqual(60);
    expect(Math.abs(truncate.audio_end_ms - receivedMs)).toBeLessThanOrEqual(40);
    expect(mock.truncations).toHaveLength(1);
    // The caller heard the reply before the interrupt and nothing of it afterwards.
    expect(recordingDbfs(m.result, m.replyStartTick, m.interruptSentTick)).toBeGreaterThan(-35);
    // Packets stopped at lastAgentTick; the softphone's own jitter buffer (deeper on a loaded machine) still
    // plays what it holds for a few frames: 25 frames (500 ms) of margin, then nothing.
    expect(recordingDbfs(m.result, m.lastAgentTick + 25, m.result.received.length / 160)).toBeLessThan(-60);
  });

  it('end_call: the whole goodbye plays, then the server sends BYE', async () => {
    const goodbye = fixturePcm('agent-goodbye.wav');
    // "No, that is everything. | Thank you, goodbye." is two turns for the mock's VAD: answer the second.
    mock.enqueueTurn(silentTurn);
    mock.enqueueTurn({
      replyAudioPcm16: goodbye,
      replyText: 'Goodbye.',
      toolCall: { name: 'end_call', args: {} },
    });
    const rec = new TickRecorder();
    const result = await phone.call(srv.uri('100'), {
      playPath: fixture('caller-goodbye.wav'),
      durationMs: 20_000,
      onEstablished: (leg) => rec.attach(leg),
    });
    const first = rec.firstArrival();
    // The last packet may arrive with the BYE, after the last tick: take the leg's own count.
    const packets = result.packetsReceived;
    // 24 kHz samples → 20 ms frames; the last partial frame is padded.
    const expectedFrames = Math.ceil(goodbye.length / 480);
    report('openai end_call', { expectedFrames, packets, firstTick: first, lastTick: rec.lastArrival() });
    expect(result.endedBy).toBe('remote');
    expect(Math.abs(packets - expectedFrames)).toBeLessThanOrEqual(1);
    // The BYE came after the sentence: nothing was cut (the caller did not barge in).
    expect(mock.truncations).toHaveLength(0);
  });
});
