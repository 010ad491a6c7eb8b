/**
 * Issue 5 acceptance, barge-in with the providers that cannot truncate (Gemini Live, Qwen-Omni): playout is
 * flushed at once and nothing of the interrupted reply reaches the caller afterwards; no truncate is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Softphone } from '../../src/softphone/softphone.js';
import { startGeminiMock } from '../support/gemini-mock.js';
import type { MockProviderServer } from '../support/mock-provider.js';
import { startQwenMock } from '../support/qwen-mock.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  closePhone,
  fixturePcm,
  recordingDbfs,
  report,
  runBargeInCall,
  silentTurn,
  startPhone,
} from './call-harness.js';

const FRAME_MS = 20;

const cases = [
  { slug: 'gemini', stored: 'gemini', apiKey: 'gemini-test', start: () => startGeminiMock(), port: 45300 },
  // The credential is stored under an alias of the provider the dialplan names (issue 19).
  {
    slug: 'qwen-omni',
    stored: 'aliyun_omni',
    apiKey: 'qwen-test',
    start: () => startQwenMock(),
    port: 45400,
  },
] as const;

describe.each(cases)('barge-in on a SIP call to the $slug mock (flush only)', (c) => {
  let mock: MockProviderServer;
  let srv: TestServer;
  let phone: Softphone;
  beforeAll(async () => {
    mock = await c.start();
    srv = await startTestServer({
      logLevel: 'info',
      dialplans: {
        'acme.yaml': `tenant: acme\nnumbers: ["*"]\nagent: { provider: ${c.slug}, barge_in: { enabled: true } }\n`,
      },
      credentials: [{ tenant: 'acme', provider: c.stored, fields: { apiKey: c.apiKey, url: mock.url } }],
    });
    phone = await startPhone(c.port);
  });
  afterAll(async () => {
    await closePhone(phone);
    await srv.close();
    await mock.close();
  });

  it('stops agent audio at once and sends no truncate', async () => {
    // These mocks' VADs wait 400 ms of silence: the billing question and the interrupt are one turn each.
    mock.enqueueTurn({ replyAudioPcm16: fixturePcm('agent-long-answer.wav'), replyText: 'Sure.' });
    for (let i = 0; i < 3; i++) mock.enqueueTurn(silentTurn);

    const m = await runBargeInCall(srv, phone, mock);
    const afterBargeInMs = (m.lastAgentTick - m.bargeInTick) * FRAME_MS;
    const types = new Set(mock.received.map((r) => r.type));
    report(`${c.slug} barge-in`, {
      replyStartTick: m.replyStartTick,
      interruptSentTick: m.interruptSentTick,
      bargeInTick: m.bargeInTick,
      lastAgentTick: m.lastAgentTick,
      agentMsAfterBargeIn: afterBargeInMs,
      agentMsAfterInterruptSent: (m.lastAgentTick - m.interruptSentTick) * FRAME_MS,
      playedMs: m.playedMs,
      receivedAgentMs: m.agentPackets * FRAME_MS,
      messageTypes: [...types],
    });
    expect(mock.violations).toEqual([]);
    expect(m.interruptSentTick - m.replyStartTick).toBeGreaterThanOrEqual(150);
    expect(m.bargeInTick).toBeGreaterThan(m.interruptSentTick);
    expect(afterBargeInMs).toBeLessThanOrEqual(60);
    expect(types.has('conversation.item.truncate')).toBe(false);
    expect(recordingDbfs(m.result, m.replyStartTick, m.interruptSentTick)).toBeGreaterThan(-35);
    // Packets stopped at lastAgentTick; the softphone's own jitter buffer (deeper on a loaded machine) still
    // plays what it holds for a few frames: 25 frames (500 ms) of margin, then nothing.
    expect(recordingDbfs(m.result, m.lastAgentTick + 25, m.result.received.length / 160)).toBeLessThan(-60);
    // Only what was played counts as heard: the flush reports the RTP frames sent of the item.
    expect(Math.abs((m.playedMs ?? 0) - m.agentPackets * FRAME_MS)).toBeLessThanOrEqual(40);
  });
});
