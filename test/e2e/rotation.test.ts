/**
 * Issue 14, long calls: the provider session is rotated before its cap, between turns, carrying the
 * conversation, and the caller hears no gap. Scaled for CI: the OpenAI mock's session cap is 15 s (the real
 * one is 60 min, a scale of 1/240) and the profile's `limits.session_max_s` is 15, so a ~40 s call crosses
 * at least two rotations (the issue's 60 s cap over a 3-minute call has the same shape, four times longer).
 * A sipp caller with a plain RTP listener greets, then takes six turns: it says the billing question
 * (1.5 s), the mock answers each turn with a 2 s tone of its own frequency, the caller waits 2.5 s. Asserted:
 * ≥ 2 rotations (due 5 s before the cap: the margin is 10 % of the cap, at least 5 s, at most 2 min) and none of the mock's sessions reached its cap; every new session got a
 * conversation.item.create per prior turn right after its session.update; every turn's answer was heard in
 * full (≥ 98 of 100 frames) and with no gap inside it above 200 ms on the server's RTP clock. A second case
 * lets the cap hit (no session_max_s, default 60 min): the mock's `session_expired` error and 1001 close
 * make the call continue in a new session with the history, and the next turn is answered.
 * Addresses: callers on 127.0.1.71 (this worktree's block), ports chosen free at run time.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readPcm16Wav } from '../support/baresip.js';
import { endedCalls } from '../support/call-audio.js';
import { eventually } from '../support/eventually.js';
import { freePortPair } from '../support/free-port.js';
import { waitForLiveCall } from '../support/live-call.js';
import { startOpenAIMock, type OpenAIMockServer } from '../support/openai-mock.js';
import { RtpListener } from '../support/rtp-listener.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { describeSipp, startSipp } from '../support/sipp.js';
import { tone } from '../support/tone-prompt.js';

const CALLER_IP = '127.0.1.71';
const SCENARIO = fileURLToPath(new URL('./provider-loss-call.xml', import.meta.url));
const SPEECH = readPcm16Wav(
  readFileSync(fileURLToPath(new URL('../fixtures/audio/caller-billing-question.wav', import.meta.url))),
).samples.subarray(0, 12_000);
const GREETING_HZ = 400;
/** One answer tone per turn, ≥ 1.35 apart so the listener's ±15 % classes never overlap. */
const TURN_HZ = [600, 850, 1200, 1700, 2400, 3300];
const REPLY_MS = 2000;
const QUIET_MS = 2500;
const CAP_MS = 15_000;
const FRAME_MS = 20;
const MAX_GAP_MS = 200;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The largest distance between consecutive frames of tone `hz`, minus one frame (RTP clock, ms). */
function maxGapMs(listener: RtpListener, hz: number): number {
  const ts = listener.received.filter((p) => Math.abs(p.toneHz - hz) <= hz * 0.15).map((p) => p.timestamp);
  let max = 0;
  for (let i = 1; i < ts.length; i++) max = Math.max(max, ((ts[i]! - ts[i - 1]!) >>> 0) / 8 - FRAME_MS);
  return max;
}

/** For every session after the first: the client messages right after its session.update (appends skipped). */
function seeds(mock: OpenAIMockServer): Array<Array<{ role: string; text: string }>> {
  const msgs = mock.received.filter((r) => r.type !== 'input_audio_buffer.append');
  const out: Array<Array<{ role: string; text: string }>> = [];
  msgs.forEach((m, i) => {
    if (m.type !== 'session.update' || i === 0) return;
    const items: Array<{ role: string; text: string }> = [];
    for (let j = i + 1; j < msgs.length && msgs[j]!.type === 'conversation.item.create'; j++) {
      const item = (msgs[j]!.message as { item: { role: string; content: Array<{ text: string }> } }).item;
      items.push({ role: item.role, text: item.content[0]!.text });
    }
    out.push(items);
  });
  return out;
}

describe('provider session rotation before the cap (issue 14)', () => {
  let srv: TestServer;
  let mock: OpenAIMockServer;
  beforeAll(async () => {
    const profile = (tenant: string, number: string, limits: string): string =>
      [
        `tenant: ${tenant}`,
        `numbers: ["${number}"]`,
        'agent:',
        '  provider: openai',
        '  greeting: "Greet the caller."',
        `  limits: ${limits}`,
      ].join('\n');
    srv = await startTestServer({
      logLevel: 'info',
      dialplans: {
        'rot.yaml': profile('rot', '600', '{ session_max_s: 15, idle_timeout_s: 60 }'),
        'exp.yaml': profile('exp', '601', '{ idle_timeout_s: 60 }'),
      },
    });
  });
  afterEach(async () => {
    await mock?.close();
    expect(mock.violations).toEqual([]);
  });
  afterAll(async () => {
    await srv?.close();
  });

  async function startMock(tenant: string): Promise<void> {
    mock = await startOpenAIMock({ mode: 'ga', sessionMaxMs: CAP_MS });
    await srv.server.store.putCredential(tenant, 'openai', { apiKey: 'sk-test', url: mock.url });
    const rate = mock.outputSampleRateHz;
    mock.enqueueTurn({ replyAudioPcm16: tone(GREETING_HZ, 1000, rate), replyText: 'Hello, billing here.' });
    TURN_HZ.forEach((hz, i) =>
      mock.enqueueTurn({ replyAudioPcm16: tone(hz, REPLY_MS, rate), replyText: `Answer number ${i + 1}.` }),
    );
  }

  /** A call taking `turns` turns (with `between` run after each); hung up through the control API. */
  async function call(
    tenant: string,
    number: string,
    turns: number,
    between: (turn: number) => Promise<void>,
  ) {
    const sip = await freePortPair(CALLER_IP, [49800, 49810, 49820, 49830]);
    const rtp = await freePortPair(CALLER_IP, [49850, 49860, 49870, 49880]);
    const listener = await RtpListener.bind(CALLER_IP, rtp);
    try {
      const sipp = startSipp({
        scenario: SCENARIO,
        target: `127.0.0.1:${srv.sipPort}`,
        localIp: CALLER_IP,
        localPort: sip,
        service: number,
        vars: { rtp_port: String(rtp) },
        timeoutMs: 120_000,
      });
      const live = await waitForLiveCall(srv, (c) => c.tenant === tenant);
      listener.start({ address: '127.0.0.1', port: live.media.localPort }, 6000);
      await eventually(() => expect(listener.count(GREETING_HZ)).toBeGreaterThanOrEqual(45), 15_000);
      for (let i = 0; i < turns; i++) {
        listener.say(SPEECH);
        const hz = TURN_HZ[i]!;
        await eventually(() => expect(listener.count(hz)).toBeGreaterThanOrEqual(98), 15_000);
        await sleep(QUIET_MS);
        await between(i);
      }
      expect((await srv.api('DELETE', `/v1/calls/${live.id}`)).status).toBe(204);
      const result = await sipp.result;
      expect(result.exitCode, describeSipp(result)).toBe(0);
      return listener;
    } finally {
      await listener.close();
    }
  }

  it(
    'rotates at least twice between turns; no turn lost, no gap over 200 ms',
    { timeout: 120_000 },
    async () => {
      await startMock('rot');
      const listener = await call('rot', '600', TURN_HZ.length, () => Promise.resolve());
      const gaps = TURN_HZ.map((hz) => ({
        hz,
        frames: listener.count(hz),
        maxGapMs: maxGapMs(listener, hz),
      }));
      const ended = endedCalls(srv).at(-1) as { reason?: string; rotations?: number; providers?: string[] };
      const given = seeds(mock);
      console.info(
        `[rotation] ${ended.rotations} rotations, ${mock.connections} sessions, expired ${mock.expiredSessions}; ` +
          `turns heard ${gaps.map((g) => `${g.hz} Hz ${g.frames} frames max gap ${g.maxGapMs} ms`).join('; ')}; ` +
          `history items per new session ${given.map((g) => g.length).join(', ')}`,
      );
      expect(ended.reason).toBe('api-hangup');
      expect(ended.rotations).toBeGreaterThanOrEqual(2);
      expect(mock.connections).toBe(ended.rotations! + 1);
      // Rotation came before the cap: no session of the mock expired.
      expect(mock.expiredSessions).toBe(0);
      for (const g of gaps) {
        expect(g.frames).toBeGreaterThanOrEqual(98);
        expect(g.frames).toBeLessThanOrEqual(101);
        expect(g.maxGapMs).toBeLessThanOrEqual(MAX_GAP_MS);
      }
      // Each new session got the conversation so far: the greeting first, the caller's turns, the answers.
      expect(given).toHaveLength(ended.rotations!);
      for (const items of given) {
        expect(items[0]).toEqual({ role: 'assistant', text: 'Hello, billing here.' });
        expect(items.some((t) => t.role === 'user' && t.text === 'mock caller words')).toBe(true);
        expect(items.at(-1)?.role).toBe('assistant');
      }
      expect(given[1]!.length).toBeGreaterThan(given[0]!.length);
    },
  );

  it(
    'the provider ends the session itself (session_expired, 1001): the call continues in a new one',
    { timeout: 90_000 },
    async () => {
      await startMock('exp');
      const listener = await call('exp', '601', 2, async (turn) => {
        // After the first turn, wait for the cap (15 s after the session opened) before the next turn.
        if (turn === 0) await eventually(() => expect(mock.expiredSessions).toBe(1), 20_000);
        if (turn === 0) await sleep(1000);
      });
      const ended = endedCalls(srv).at(-1) as { reason?: string; rotations?: number };
      const given = seeds(mock);
      console.info(
        `[rotation] expiry: ${mock.connections} sessions, rotations ${ended.rotations}, history ` +
          `${JSON.stringify(given[0])}`,
      );
      expect(ended.reason).toBe('api-hangup');
      expect(ended.rotations).toBe(1);
      expect(mock.connections).toBe(2);
      expect(given[0]?.[0]).toEqual({ role: 'assistant', text: 'Hello, billing here.' });
      expect(given[0]?.some((t) => t.text === 'Answer number 1.')).toBe(true);
      for (const hz of TURN_HZ.slice(0, 2)) expect(listener.count(hz)).toBeGreaterThanOrEqual(98);
      expect(srv.logs.some((l) => l.includes('provider session expired; continued in a new session'))).toBe(
        true,
      );
    },
  );
});
