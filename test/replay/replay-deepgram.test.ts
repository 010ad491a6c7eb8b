/**
 * Issue 15: a recording of a Deepgram Voice Agent call replays. The production server records a softphone
 * call (PCMU over loopback RTP) to the protocol-faithful Deepgram mock: the caller's question, the agent's
 * long answer, the caller talks over it (UserStartedSpeaking, a barge-in), the agent sends DTMF (a tool round
 * trip), then says goodbye and calls end_call. The recorded wire messages (Welcome, SettingsApplied,
 * ConversationText, AgentStartedSpeaking, `AgentAudio{audio:{audioMs, bytes}}` placeholders, AgentAudioDone,
 * FunctionCallRequest, …) normalise into a replay script, and both replay modes reproduce the call: the
 * replies, the barge-in, both tool calls after the same caller turns, the end_call ending.
 *
 * Without the Deepgram normaliser the script is empty: no agent audio, no tool call, the caller hangs up
 * (the tests below then fail on the script's steps and on the replay diff).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReplayScript, loadRecording, type Recording } from '../../src/agent/providers/replay/index.js';
import { Resampler } from '../../src/media/dsp/resampler.js';
import { readWavFile } from '../../src/media/wav.js';
import { replayFast } from '../../src/replay/fast.js';
import { formatOutcome, outcomeOfRecording } from '../../src/replay/outcome.js';
import { replayOverSip } from '../../src/replay/sip.js';
import { Softphone } from '../../src/softphone/softphone.js';
import { deepgramTenant, startDeepgramMock } from '../support/deepgram-mock.js';
import { startTestServer } from '../support/server.js';
import { BILLING, callerAudio, INTERRUPT, waitForClosedRecording } from './make-recordings.js';

const logger = pino({ level: 'silent' });
const LONG_ANSWER_TEXT = 'Your last bill included a one time activation fee of twenty dollars.';
const GOODBYE_TEXT = 'You are welcome. Goodbye.';

/** An agent fixture (24 kHz) at the mock's 8 kHz, cut to `ms`. */
function reply8k(name: string, ms: number): Int16Array {
  const wav = readWavFile(new URL(`../fixtures/audio/${name}`, import.meta.url).pathname);
  const pcm = wav.samples.subarray(0, (ms * wav.sampleRateHz) / 1000);
  const resampler = new Resampler(wav.sampleRateHz, 8000);
  const out = new Int16Array(resampler.maxOutputSamples(pcm.length));
  return out.subarray(0, resampler.process(pcm, out));
}

describe('replay of a Deepgram call', { timeout: 120_000 }, () => {
  let recordings: string;
  let dir: string;
  let rec: Recording;
  beforeAll(async () => {
    recordings = await mkdtemp(join(tmpdir(), 'sb-dg-rec-'));
    const mock = await startDeepgramMock();
    const srv = await startTestServer({
      recordingsDir: recordings,
      logLevel: 'warn',
      ...deepgramTenant(mock, '  record: true'),
    });
    const phone = new Softphone({ logger, rtpPortMin: 48100, rtpPortMax: 48199 });
    await phone.start();
    try {
      mock.enqueueTurn({
        replyAudioPcm16: reply8k('agent-long-answer.wav', 9000),
        replyText: LONG_ANSWER_TEXT,
      });
      mock.enqueueTurn({
        replyAudioPcm16: new Int16Array(0),
        toolCall: { name: 'send_dtmf', args: { digits: '1' } },
      });
      mock.enqueueTurn({
        replyAudioPcm16: reply8k('agent-goodbye.wav', 2500),
        replyText: GOODBYE_TEXT,
        toolCall: { name: 'end_call', args: { reason: 'done' } },
      });
      // The question; 1.8 s into the answer the caller talks over it; then silence until the agent hangs up.
      const result = await phone.call(srv.uri('100'), {
        playPcm8k: callerAudio([300, BILLING, 1800, INTERRUPT, 8000]),
        codecs: ['PCMU'],
        durationMs: 20_000,
      });
      expect(result.endedBy).toBe('remote');
      expect(mock.violations).toEqual([]);
      dir = await waitForClosedRecording(join(recordings, 'acme'));
    } finally {
      await phone.close();
      await srv.close();
      await mock.close();
    }
    rec = await loadRecording(dir);
  }, 60_000);
  afterAll(async () => {
    await rm(recordings, { recursive: true, force: true });
  });

  it('the recording holds the Deepgram messages, and they normalise into replies, a barge-in, tools', () => {
    expect(rec.meta.provider).toBe('deepgram');
    const inbound = rec.events.filter((e) => e.kind === 'wire' && e.direction === 'in');
    const types = new Set(inbound.map((e) => (e.message as { type?: string }).type));
    for (const t of [
      'Welcome',
      'SettingsApplied',
      'ConversationText',
      'UserStartedSpeaking',
      'AgentStartedSpeaking',
      'AgentAudio',
      'AgentAudioDone',
      'FunctionCallRequest',
    ])
      expect(types, t).toContain(t);

    const steps = buildReplayScript(rec).steps.map((s) => s.event);
    const texts = steps.flatMap((e) => (e.kind === 'text' ? [e.text] : []));
    expect(texts).toEqual([LONG_ANSWER_TEXT, GOODBYE_TEXT]);
    const tools = steps.flatMap((e) =>
      e.kind === 'tool.call' ? [`${e.name}(${JSON.stringify(e.args)})`] : [],
    );
    expect(tools).toEqual(['send_dtmf({"digits":"1"})', 'end_call({"reason":"done"})']);
    // Both replies completed (the answer was streamed in full before the caller interrupted the playout).
    const ends = steps.flatMap((e) => (e.kind === 'turn.end' ? [`${e.responseId}:${e.status}`] : []));
    expect(ends).toEqual(['dg_resp_1:completed', 'dg_resp_2:completed']);
    expect(steps.filter((e) => e.kind === 'user.speech.started').length).toBeGreaterThanOrEqual(2);
    expect(steps.filter((e) => e.kind === 'user.transcript').length).toBeGreaterThanOrEqual(2);
    // The audio placeholders: the recorded ms per reply (100 ms chunks of 9 s and 2.5 s at 8 kHz μ-law).
    const audioMs = new Map<string, number>();
    for (const e of steps)
      if (e.kind === 'audio') audioMs.set(e.responseId, (audioMs.get(e.responseId) ?? 0) + e.audioMs);
    console.log('deepgram replay script', { types: [...types], texts, tools, ends, audioMs: [...audioMs] });
    expect([...audioMs]).toEqual([
      ['dg_resp_1', 9000],
      ['dg_resp_2', 2500],
    ]);
    const outcome = outcomeOfRecording(rec);
    expect(outcome.ending).toBe('end_call');
    expect(outcome.bargeIns).toEqual([1]);
  });

  it('--fast: the replay matches the recording', async () => {
    const r = await replayFast(dir, { logger });
    console.log(`expected:\n${formatOutcome(r.expected)}\nactual (fast):\n${formatOutcome(r.actual)}`);
    expect(r.diff, `${r.diff.join('\n')}\n${formatOutcome(r.expected)}\n${formatOutcome(r.actual)}`).toEqual(
      [],
    );
    expect(r.actual.toolCalls.map((c) => c.name)).toEqual(['send_dtmf', 'end_call']);
    expect(r.actual.ending).toBe('end_call');
    expect(r.actual.bargeIns).toEqual([1]);
    expect(r.actual.agentAudioMs.reduce((a, b) => a + b, 0)).toBeGreaterThan(2000);
  });

  it('over SIP: the replay matches the recording', async () => {
    const r = await replayOverSip(dir, { logger });
    console.log(`actual (SIP):\n${formatOutcome(r.actual)}`);
    expect(r.diff, `${r.diff.join('\n')}\n${formatOutcome(r.expected)}\n${formatOutcome(r.actual)}`).toEqual(
      [],
    );
    expect(r.actual.toolCalls.map((c) => c.name)).toEqual(['send_dtmf', 'end_call']);
    expect(r.actual.ending).toBe('end_call');
  });
});
