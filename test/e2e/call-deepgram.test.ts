/**
 * Issue 15: a real SIP call (the softphone, PCMU, over loopback RTP) through the production server to the
 * Deepgram Voice Agent mock. One call: the caller's question, the agent's long answer, the caller interrupts
 * it (UserStartedSpeaking), the agent sends DTMF (a tool round trip: FunctionCallRequest → FunctionCallResponse),
 * then says goodbye and calls end_call, after which the server sends BYE.
 *
 * μ-law both ways without transcoding: the mock must receive exactly the μ-law bytes the caller sent on RTP,
 * and its μ-law reply frames reach the caller as RTP. Everything is counted in media time (20 ms ticks).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Resampler } from '../../src/media/dsp/resampler.js';
import { PromptPlayer } from '../../src/call/prompt.js';
import type { Softphone } from '../../src/softphone/softphone.js';
import { deepgramTenant, startDeepgramMock, type DeepgramMockServer } from '../support/deepgram-mock.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  closePhone,
  fixture,
  fixturePcm,
  liveCall,
  recordingDbfs,
  report,
  startPhone,
  TickRecorder,
  waitCallsEnded,
} from './call-harness.js';

/** μ-law digital silence; the caller sends it between its utterances so its RTP stream has no gaps. */
const SILENCE = Buffer.alloc(160, 0xff);
const SILENCE_FRAMES = 2000;

/** The 24 kHz agent fixtures at the mock's 8 kHz (μ-law is 8 kHz by definition). */
function at8k(name: string): Int16Array {
  const pcm = fixturePcm(name);
  const r = new Resampler(24_000, 8000);
  const out = new Int16Array(r.maxOutputSamples(pcm.length));
  return out.subarray(0, r.process(pcm, out));
}

/**
 * Walks the mock's frames along the caller's: a frame equal to the next sent one matches; one equal to a sent
 * frame up to 3 ahead means the jitter buffer dropped the frames between (shrinking at silence); anything else
 * is a frame the jitter buffer inserted (concealment after an underrun).
 */
function align(
  sent: Buffer,
  received: Buffer,
  start: number,
): { matched: number; inserted: number; skipped: number; consumedBytes: number } {
  const frame = (b: Buffer, at: number): Buffer => b.subarray(at, at + 160);
  let j = start;
  let matched = 0;
  let inserted = 0;
  let skipped = 0;
  for (let i = 0; i < received.length; i += 160) {
    const f = frame(received, i);
    let k = 0;
    while (k <= 3 && !f.equals(frame(sent, j + k * 160))) k++;
    if (k > 3) {
      inserted++;
      continue;
    }
    matched++;
    skipped += k;
    j += (k + 1) * 160;
  }
  return { matched, inserted, skipped, consumedBytes: j - start };
}

describe('a SIP call to the Deepgram Voice Agent mock (PCMU passthrough)', () => {
  let mock: DeepgramMockServer;
  let srv: TestServer;
  let phone: Softphone;
  beforeAll(async () => {
    mock = await startDeepgramMock();
    srv = await startTestServer({
      logLevel: 'info',
      ...deepgramTenant(mock, '  instructions: You are a billing agent.', '  barge_in: { enabled: true }'),
    });
    phone = await startPhone(46700);
  });
  afterAll(async () => {
    await closePhone(phone);
    await srv.close();
    await mock.close();
  });

  it('μ-law both ways untouched, an interruption, a tool round trip, end_call', async () => {
    const longAnswer = at8k('agent-long-answer.wav');
    const goodbye = at8k('agent-goodbye.wav');
    // The mock's VAD waits 400 ms of silence: the question and the interrupt are one turn each.
    mock.enqueueTurn({ replyAudioPcm16: longAnswer, replyText: 'Your bill is…' });
    mock.enqueueTurn({
      replyAudioPcm16: new Int16Array(0),
      toolCall: { name: 'send_dtmf', args: { digits: '1' } },
    });
    mock.enqueueTurn({
      replyAudioPcm16: goodbye,
      replyText: 'Goodbye.',
      toolCall: { name: 'end_call', args: {} },
    });

    const prompts = new PromptPlayer();
    const rec = new TickRecorder();
    const sentFrames: Buffer[] = [];
    let replyStartTick = -1;
    let interruptTick = -1;
    let bargeInTick = -1;
    rec.onTick((tick) => {
      if (replyStartTick < 0 && (rec.arrivals[tick] ?? 0) > 0) replyStartTick = tick;
      // 3 s (150 frames) into the answer, the caller talks over it.
      if (replyStartTick >= 0 && interruptTick < 0 && tick >= replyStartTick + 150) {
        interruptTick = tick;
        rec.leg.playout.flush(); // the silence queued behind the question
        for (const f of prompts.frames(fixture('caller-interrupt.wav'), rec.leg.codec, rec.leg.ptimeMs))
          rec.leg.playout.enqueue(f, 'interrupt', 'interrupt');
        for (let i = 0; i < SILENCE_FRAMES; i++) rec.leg.playout.enqueue(SILENCE, 'silence2', 'silence2');
      }
    });
    const resultP = phone.call(srv.uri('100'), {
      durationMs: 60_000,
      onEstablished: (leg) => {
        rec.attach(leg);
        leg.on('tick', (_caller, sent) => {
          if (sent !== undefined) sentFrames.push(Buffer.from(sent));
        });
        for (const f of prompts.frames(fixture('caller-billing-question.wav'), leg.codec, leg.ptimeMs))
          leg.playout.enqueue(f, 'question', 'question');
        for (let i = 0; i < SILENCE_FRAMES; i++) leg.playout.enqueue(SILENCE, 'silence', 'silence');
      },
    });
    const { session } = await liveCall(srv);
    session.on('barge-in', (d) => {
      if (d.action === 'interrupted' && bargeInTick < 0) bargeInTick = rec.now;
    });
    const result = await resultP;
    await waitCallsEnded(srv);

    const sent = Buffer.concat(sentFrames);
    const received = mock.audioBytes();
    // Where the mock's stream starts in the caller's (the first 20 ms of the question are not silence).
    const offset = sent.indexOf(received.subarray(0, 480));
    const dtmfResponse = (await mock.waitForMessage('FunctionCallResponse')) as {
      name: string;
      content: string;
    };
    const goodbyeFrames = Math.ceil(goodbye.length / 160);
    const lastTick = rec.lastArrival();
    const a = align(sent, received, offset);
    report('deepgram call', {
      sentBytes: sent.length,
      mockReceivedBytes: received.length,
      offsetBytes: offset,
      alignment: a,
      replyStartTick,
      interruptTick,
      bargeInTick,
      lastAgentTick: lastTick,
      packetsReceived: result.packetsReceived,
      longAnswerFrames: Math.ceil(longAnswer.length / 160),
      goodbyeFrames,
      dtmfResponse,
      endedBy: result.endedBy,
      messageTypes: [...new Set(mock.received.map((r) => r.type))],
    });

    expect(mock.violations).toEqual([]);
    // The Settings the profile produced: μ-law 8 kHz both ways, raw frames; model → think, voice → speak.
    expect(mock.settings?.audio).toEqual({
      input: { encoding: 'mulaw', sample_rate: 8000 },
      output: { encoding: 'mulaw', sample_rate: 8000, container: 'none' },
    });
    expect(mock.settings?.agent.think).toMatchObject({
      provider: { type: 'open_ai', model: 'gpt-4o-mini' },
      prompt: 'You are a billing agent.',
    });
    expect(mock.settings?.agent.speak).toEqual({ provider: { type: 'deepgram', model: 'aura-2-luna-en' } });
    expect(session.passthrough).toBe(true);

    // 1. Caller → provider, byte for byte: the mock's stream is the caller's μ-law frames in order. A decode
    //    and re-encode would already change the caller's 0x7F codes (μ-law −0 comes back as 0xFF), a resample
    //    every byte. The first 2 packets are the RTP latching probation (RFC 3550 §A.1: 3 packets, the third
    //    delivered), dropped by design. Tolerance: the server's adaptive jitter buffer may conceal an
    //    underrun with an inserted frame or drop silence to shrink, ≤ 2 % of frames on this shared machine,
    //    and ≤ 5 frames still in flight at the BYE.
    expect(offset).toBe(2 * 160);
    const frames = received.length / 160;
    expect(a.matched).toBeGreaterThanOrEqual(Math.floor(frames * 0.98));
    expect(a.inserted + a.skipped).toBeLessThanOrEqual(Math.ceil(frames * 0.02));
    expect(sent.length - offset - a.consumedBytes).toBeLessThanOrEqual(5 * 160);

    // 2. Interruption: 3 s into the answer the caller spoke; the server flushed and the answer stopped
    //    (far fewer agent frames than the answer plus the goodbye).
    expect(interruptTick - replyStartTick).toBeGreaterThanOrEqual(150);
    expect(bargeInTick).toBeGreaterThan(interruptTick);
    expect(result.packetsReceived).toBeLessThan(Math.ceil(longAnswer.length / 160) + goodbyeFrames);
    expect(recordingDbfs(result, replyStartTick, interruptTick)).toBeGreaterThan(-35);

    // 3. Tool round trip: send_dtmf ran and its result went back under the request's id and name.
    expect(dtmfResponse.name).toBe('send_dtmf');
    expect(JSON.parse(dtmfResponse.content)).toMatchObject({ ok: true, sent: '1' });

    // 4. end_call: the goodbye played, then the server sent BYE.
    expect(result.endedBy).toBe('remote');
    expect(recordingDbfs(result, lastTick - goodbyeFrames + 5, lastTick - 5)).toBeGreaterThan(-35);
    const types = new Set(mock.received.map((r) => r.type));
    expect([...types].sort()).toEqual(['FunctionCallResponse', 'Settings']);

    // GET /v1/providers lists deepgram with its credential fields (the key is a secret).
    const providers = await srv.api('GET', '/v1/providers');
    const dg = (providers.json.providers as Array<{ slug: string; credentialFields: unknown[] }>).find(
      (p) => p.slug === 'deepgram',
    );
    expect(dg?.credentialFields).toEqual(
      expect.arrayContaining([
        { name: 'apiKey', required: true, secret: true },
        { name: 'url', required: false, secret: false },
      ]),
    );
    expect(srv.logs.some((l) => l.includes('dg-test'))).toBe(false);
  });
});
