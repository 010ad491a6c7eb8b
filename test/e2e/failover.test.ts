/**
 * Issue 15, mid-call failover: the primary provider (the OpenAI Realtime mock) dies in the middle of a reply
 * and refuses every reconnect; the call moves to the profile's `failover` target (the Gemini Live mock)
 * without hanging up. A sipp caller (signalling) with a plain RTP listener (media, test/support/rtp-listener.ts)
 * hears the greeting (400 Hz), says something (the billing question), hears the answer (600 Hz) die after
 * 1.5 s, the bridge clip (2600 Hz, 400 ms), then the Gemini session's answer (1200 Hz). Asserted: the Gemini mock received the prior turns
 * (greeting text, the caller's transcript, the cut reply) in one clientContent before anything else; the
 * caller hears agent audio again within 3 s of the last 600 Hz frame, measured on the server's RTP clock
 * (timestamp distance minus one frame; tolerance one 20 ms frame, the unit of the measurement); no BYE until
 * the test hangs up through the control API. With the failover target dead too, today's fallback runs: the
 * prompt (1800 Hz), BYE, 'agent-failed'.
 * Addresses: callers on 127.0.1.70 (this worktree's block), ports chosen free at run time.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readPcm16Wav } from '../support/baresip.js';
import { endedCalls } from '../support/call-audio.js';
import { eventually } from '../support/eventually.js';
import { freePortPair } from '../support/free-port.js';
import { startGeminiMock, type GeminiMockServer } from '../support/gemini-mock.js';
import { waitForLiveCall } from '../support/live-call.js';
import { startOpenAIMock, type OpenAIMockServer } from '../support/openai-mock.js';
import { RtpListener } from '../support/rtp-listener.js';
import { tone, tonePrompt } from '../support/tone-prompt.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { describeSipp, startSipp } from '../support/sipp.js';

const CALLER_IP = '127.0.1.70';
const SCENARIO = fileURLToPath(new URL('./provider-loss-call.xml', import.meta.url));
const SPEECH = readPcm16Wav(
  readFileSync(fileURLToPath(new URL('../fixtures/audio/caller-billing-question.wav', import.meta.url))),
);
const GREETING_HZ = 400;
const ANSWER_HZ = 600;
const FAILOVER_HZ = 1200;
const PROMPT_HZ = 1800;
const BRIDGE_HZ = 2600;
const BRIDGE_MS = 400;
const BOUND_MS = 3000;
const FRAME_MS = 20;
const FAULT_AFTER_MS = 1500;
const GREETING_TEXT = 'Hello, this is the billing line.';
const ANSWER_TEXT = 'Let me look at your last invoice in detail.';

async function ports(): Promise<{ sip: number; rtp: number }> {
  const sip = await freePortPair(CALLER_IP, [49700, 49710, 49720, 49730, 49740]);
  const rtp = await freePortPair(CALLER_IP, [49750, 49760, 49770, 49780, 49790]);
  return { sip, rtp };
}

describe('mid-call failover to the next provider (issue 15)', () => {
  let srv: TestServer;
  let openai: OpenAIMockServer;
  let gemini: GeminiMockServer;
  let dir: string;
  let bridgeDir: string;
  beforeAll(async () => {
    const bridge = await tonePrompt('sb-failover-bridge-', BRIDGE_HZ, BRIDGE_MS);
    bridgeDir = bridge.dir;
    const made = await tonePrompt('sb-failover-', PROMPT_HZ, 1000);
    dir = made.dir;
    const prompt = made.path;
    srv = await startTestServer({
      logLevel: 'info',
      dialplans: {
        'fo.yaml': [
          'tenant: fo',
          'numbers: ["500"]',
          'agent:',
          '  provider: openai',
          '  greeting: "Greet the caller."',
          '  barge_in: { enabled: false }',
          '  limits: { provider_stall_ms: 2000 }',
          '  failover: [{ provider: gemini, voice: Kore }]',
          `  failover_bridge_audio: "${bridge.path}"`,
          `  fallback: { audio: "${prompt}" }`,
        ].join('\n'),
      },
    });
  });
  afterEach(async () => {
    await openai?.close();
    await gemini?.close();
    expect(openai.violations).toEqual([]);
    expect(gemini.violations).toEqual([]);
  });
  afterAll(async () => {
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
    await rm(bridgeDir, { recursive: true, force: true });
  });

  /** Fresh mocks per case; the OpenAI answer dies (socket dropped, reconnects refused) after 1.5 s. */
  async function startMocks(): Promise<void> {
    openai = await startOpenAIMock({ mode: 'ga', speedFactor: 2 });
    gemini = await startGeminiMock();
    await srv.server.store.putCredential('fo', 'openai', { apiKey: 'sk-test', url: openai.url });
    await srv.server.store.putCredential('fo', 'gemini', { apiKey: 'gemini-test', url: gemini.url });
    const rate = openai.outputSampleRateHz;
    openai.enqueueTurn({ replyAudioPcm16: tone(GREETING_HZ, 1000, rate), replyText: GREETING_TEXT });
    openai.enqueueTurn({ replyAudioPcm16: tone(ANSWER_HZ, 4000, rate), replyText: ANSWER_TEXT });
    gemini.enqueueTurn({
      replyAudioPcm16: tone(FAILOVER_HZ, 2000, 24_000),
      replyText: 'Your invoice is paid.',
    });
  }

  /** One call: greeting, the caller's question, the answer that dies; until `untilHz` was heard enough. */
  async function call(untilHz: number, untilFrames: number, serverHangsUp: boolean) {
    const p = await ports();
    const listener = await RtpListener.bind(CALLER_IP, p.rtp);
    try {
      const sipp = startSipp({
        scenario: SCENARIO,
        target: `127.0.0.1:${srv.sipPort}`,
        localIp: CALLER_IP,
        localPort: p.sip,
        service: '500',
        vars: { rtp_port: String(p.rtp) },
        timeoutMs: 45_000,
      });
      const live = await waitForLiveCall(srv, (c) => c.tenant === 'fo');
      listener.start({ address: '127.0.0.1', port: live.media.localPort });
      await eventually(() => expect(listener.count(GREETING_HZ)).toBeGreaterThanOrEqual(45), 15_000);
      openai.failNextReply({ kind: 'die', afterMs: FAULT_AFTER_MS });
      listener.say(SPEECH.samples.subarray(0, 8000 * 2));
      await eventually(() => expect(listener.count(untilHz)).toBeGreaterThanOrEqual(untilFrames), 20_000);
      // No BYE so far: the call is still live (sipp would have answered a BYE and ended).
      const stillLive = (await srv.server.calls.list()).some((c) => c.id === live.id);
      if (!serverHangsUp) {
        expect((await srv.api('DELETE', `/v1/calls/${live.id}`)).status).toBe(204);
      }
      const result = await sipp.result;
      expect(result.exitCode, describeSipp(result)).toBe(0);
      return { listener, stillLive };
    } finally {
      await listener.close();
    }
  }

  it(
    'the primary dies mid-reply: the secondary gets the prior turns and answers within 3 s, no BYE',
    { timeout: 60_000 },
    async () => {
      await startMocks();
      const { listener, stillLive } = await call(FAILOVER_HZ, 90, false);
      // The caller hears the bridge clip, then the secondary: dead air before and after the clip.
      const bridgeGapMs = listener.gapMs(ANSWER_HZ, BRIDGE_HZ);
      const gapMs = listener.gapMs(BRIDGE_HZ, FAILOVER_HZ);
      const runs = listener
        .runs([GREETING_HZ, ANSWER_HZ, BRIDGE_HZ, FAILOVER_HZ, PROMPT_HZ])
        .filter((r) => r.frames > 1);
      console.info(
        `[failover] dead air ${bridgeGapMs} ms before the bridge clip, ${gapMs} ms after it (RTP clock); heard ${runs.map((r) => `${r.frames}×${r.toneHz} Hz`).join(', ')}`,
      );
      expect(stillLive).toBe(true);
      // The answer played until the provider died (1.5 s = 75 frames, a frame of slack at the chunk edge) …
      expect(listener.count(ANSWER_HZ)).toBeGreaterThanOrEqual(FAULT_AFTER_MS / FRAME_MS - 1);
      expect(listener.count(ANSWER_HZ)).toBeLessThanOrEqual(FAULT_AFTER_MS / FRAME_MS + 1);
      // … then the secondary's audio within the bound; the fallback prompt never played.
      expect(bridgeGapMs).toBeDefined();
      expect(gapMs).toBeDefined();
      expect(bridgeGapMs! + BRIDGE_MS + gapMs!).toBeLessThanOrEqual(BOUND_MS + FRAME_MS);
      expect(listener.count(BRIDGE_HZ)).toBeGreaterThanOrEqual(BRIDGE_MS / FRAME_MS - 1);
      expect(listener.count(PROMPT_HZ)).toBe(0);
      // The Gemini session started with the conversation so far, right after its setup.
      expect(gemini.received[0]?.type).toBe('setup');
      expect(gemini.received[1]?.type).toBe('clientContent');
      const seed = gemini.received[1]!.message as {
        clientContent: {
          turns: Array<{ role: string; parts: Array<{ text: string }> }>;
          turnComplete: boolean;
        };
      };
      expect(seed.clientContent.turnComplete).toBe(false);
      const turns = seed.clientContent.turns.map((t) => `${t.role}: ${t.parts[0]?.text}`);
      console.info(`[failover] history given to the secondary: ${JSON.stringify(turns)}`);
      expect(turns[0]).toBe(`model: ${GREETING_TEXT}`);
      expect(turns[1]).toBe('user: mock caller words');
      expect(turns[2]).toMatch(/^model: Let me look .* …$/);
      const ended = endedCalls(srv).at(-1) as { reason?: string; providers?: string[] };
      expect(ended.reason).toBe('api-hangup');
      expect(ended.providers).toEqual(['openai', 'gemini']);
      const failover = srv.logs.find((l) => l.includes('call failed over to the next provider'));
      expect(failover).toBeDefined();
      console.info(`[failover] server: ${failover}`);
    },
  );

  it('every target dead: the fallback prompt, then BYE and agent-failed', { timeout: 60_000 }, async () => {
    await startMocks();
    gemini.refuseConnections(true);
    const { listener } = await call(PROMPT_HZ, 45, true);
    expect(listener.count(FAILOVER_HZ)).toBe(0);
    expect(listener.count(PROMPT_HZ)).toBeGreaterThanOrEqual(49);
    // The bridge clip played while the dead target was tried, then the fallback prompt.
    expect(listener.count(BRIDGE_HZ)).toBeGreaterThanOrEqual(BRIDGE_MS / FRAME_MS - 1);
    const gapMs = listener.gapMs(ANSWER_HZ, BRIDGE_HZ);
    console.info(
      `[failover] all dead: bridge clip after ${gapMs} ms of dead air (RTP clock), then the prompt`,
    );
    expect(gapMs!).toBeLessThanOrEqual(BOUND_MS + FRAME_MS);
    await eventually(() => expect(endedCalls(srv).at(-1)?.reason).toBe('agent-failed'));
  });
});
