/**
 * Issue 14, server-owned interruptions, over real SIP/RTP (the softphone, PCMU passthrough) against the
 * production server and the OpenAI mock, counted in media time (softphone ticks of 20 ms, RTP packets):
 * a noise burst and a "mhm" during the reply pause it and it resumes with nothing skipped (the agent RTP
 * payloads the caller received are compared byte for byte with what the mock sent), a real interruption
 * stops the agent within 400 ms of the caller's onset and truncates at what was heard, barge_in.enabled
 * false reaches the provider (interrupt_response:false) and the reply plays in full, and mode provider keeps
 * today's behaviour (the provider's own VAD cancels the reply on the noise).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BargeInDecision } from '../../src/call/barge-in.js';
import type { Softphone } from '../../src/softphone/softphone.js';
import { LoopbackCapture, readRtpHeader } from '../support/loopback-capture.js';
import { encodeReply, startOpenAIMock, type OpenAIMockServer } from '../support/openai-mock.js';
import type { UdpDatagram } from '../support/pcap.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  closePhone,
  fixturePcm,
  liveCall,
  report,
  silentTurn,
  startPhone,
  TickRecorder,
  waitCallsEnded,
} from './call-harness.js';

const FRAME_MS = 20;
/** The softphone's RTP range (startPhone takes 100 ports). */
const PHONE_PORTS = [45400, 45499] as const;
/** The agent's reply: the first 6 s of the long answer (300 frames). */
const REPLY_PCM24K = fixturePcm('agent-long-answer.wav').subarray(0, 6 * 24000);
const REPLY_FRAMES = 300;
/** The caller's sound starts 1.5 s (75 frames) into the reply: past ignore_after_agent_start_ms. */
const SOUND_AFTER_FRAMES = 75;

/** 8 kHz caller sounds. Deterministic (a fixed-seed generator) so every run sends the same audio. */
function noiseBurst(ms: number): Int16Array {
  const out = new Int16Array((ms * 8000) / 1000);
  let seed = 12345;
  for (let i = 0; i < out.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out[i] = ((seed / 0x7fffffff) * 2 - 1) * 9000;
  }
  return out;
}
/** A hummed "mhm": 140 Hz with two harmonics, with 20 ms fades. */
function hum(ms: number): Int16Array {
  const out = new Int16Array((ms * 8000) / 1000);
  const fade = 160;
  for (let i = 0; i < out.length; i++) {
    const t = i / 8000;
    const env = Math.min(1, i / fade, (out.length - i) / fade);
    const s =
      Math.sin(2 * Math.PI * 140 * t) +
      0.5 * Math.sin(2 * Math.PI * 280 * t) +
      0.25 * Math.sin(2 * Math.PI * 420 * t);
    out[i] = Math.round(env * s * 5000);
  }
  return out;
}
/** Real speech: the first 1.5 s of the caller's interruption (one utterance for a 300 ms-silence VAD). */
const speech = (ms: number): Int16Array => fixturePcm('caller-interrupt.wav').slice(0, (ms * 8000) / 1000);
/** The caller's first turn: the same sentence's first 1.5 s, so the mock's VAD hears exactly one turn. */
const QUESTION = speech(1500);

interface Run {
  readonly replyStartTick: number;
  readonly soundSentTick: number;
  /** Agent RTP packets that arrived per softphone tick. */
  readonly arrivals: readonly number[];
  /** The agent's RTP packets to the caller as tcpdump saw them on loopback (an independent witness). */
  readonly wire: readonly WirePacket[];
  readonly decisions: readonly BargeInDecision[];
  readonly falseInterruptions: number;
}

/** One call: the caller asks, the agent replies, SOUND_AFTER_FRAMES into the reply the caller makes `sound`. */
async function runCall(srv: TestServer, phone: Softphone, number: string, sound: Int16Array): Promise<Run> {
  const rec = new TickRecorder();
  let replyStartTick = -1;
  let soundQueuedTick = -1;
  let soundSentTick = -1;
  let hangup: (() => void) | undefined;
  let phonePort = -1;
  const decisions: BargeInDecision[] = [];
  const queue = (pcm: Int16Array, tag: string): void => {
    const codec = rec.leg.codec;
    for (let i = 0; i + 160 <= pcm.length; i += 160) {
      const out = Buffer.alloc(160);
      const n = codec.encode(pcm.subarray(i, i + 160), out);
      rec.leg.playout.enqueue(out.subarray(0, n), tag, tag);
    }
  };
  const capture = await LoopbackCapture.start(`udp and dst portrange ${PHONE_PORTS[0]}-${PHONE_PORTS[1]}`);
  const resultP = phone.call(srv.uri(number), {
    durationMs: 60_000,
    onEstablished: (leg, dialog) => {
      rec.attach(leg);
      phonePort = leg.localPort;
      hangup = () => void dialog.hangup();
      queue(QUESTION, 'question');
    },
  });
  rec.onTick((tick) => {
    if (replyStartTick < 0 && (rec.arrivals[tick] ?? 0) > 0) replyStartTick = tick;
    if (replyStartTick >= 0 && soundQueuedTick < 0 && tick >= replyStartTick + SOUND_AFTER_FRAMES) {
      soundQueuedTick = tick;
      queue(sound, 'sound');
    }
    if (soundQueuedTick >= 0 && soundSentTick < 0 && tick > soundQueuedTick && rec.sent[tick])
      soundSentTick = tick;
    // The whole reply plus any pause fits in 300 + 150 frames; then hang up.
    if (replyStartTick >= 0 && tick === replyStartTick + REPLY_FRAMES + 150) hangup?.();
  });
  const { session } = await liveCall(srv);
  session.on('barge-in', (d) => decisions.push(d));
  await resultP;
  await waitCallsEnded(srv);
  const wire = wirePackets(await capture.stop(), phonePort);
  return {
    replyStartTick,
    soundSentTick,
    arrivals: rec.arrivals,
    wire,
    decisions,
    falseInterruptions: await falseCount(srv),
  };
}

/** The μ-law bytes the mock sent for the reply (its own encoder: 3:1 decimation, then G.711). */
const REPLY_BYTES = encodeReply(REPLY_PCM24K, 'pcmu');

interface WirePacket {
  readonly sequence: number;
  readonly timestamp: number;
  readonly payload: Buffer;
}

/**
 * PCMU RTP packets to this call's phone port, in sequence order (RFC 3550 §5.1), with their payloads. The
 * port matters: other calls on the machine (parallel test runs) may use the same range.
 */
function wirePackets(datagrams: readonly UdpDatagram[], port: number): WirePacket[] {
  const out: WirePacket[] = [];
  for (const d of datagrams) {
    if (d.dstPort !== port) continue;
    const h = readRtpHeader(d.payload);
    if (h === undefined || h.payloadType !== 0) continue;
    out.push({
      sequence: h.sequence,
      timestamp: h.timestamp,
      payload: d.payload.subarray(d.payload.length - h.payloadBytes),
    });
  }
  // One stream, a few hundred packets: sequence order is capture order unless loopback reordered.
  const first = out[0]?.sequence ?? 0;
  return out.sort((a, b) => ((a.sequence - first) & 0xffff) - ((b.sequence - first) & 0xffff));
}

/**
 * "Nothing skipped, nothing repeated": the payloads of the agent's RTP packets, in sequence order, against
 * the bytes the mock sent (PCMU passthrough). Returns the whole frames that match the reply from its start,
 * and the frames sent.
 */
function matchReply(wire: readonly WirePacket[]): { matchedFrames: number; sentFrames: number } {
  const sent = Buffer.concat(wire.map((p) => p.payload));
  let matched = 0;
  while ((matched + 1) * 160 <= Math.min(sent.length, REPLY_BYTES.length)) {
    const a = sent.subarray(matched * 160, (matched + 1) * 160);
    if (!a.equals(REPLY_BYTES.subarray(matched * 160, (matched + 1) * 160))) break;
    matched++;
  }
  return { matchedFrames: matched, sentFrames: wire.length };
}

/** The longest pause inside the stream, in ms of the RTP media clock (timestamp step minus one frame). */
function longestPauseMs(wire: readonly WirePacket[]): number {
  let pause = 0;
  for (let i = 1; i < wire.length; i++) {
    const step = ((wire[i]!.timestamp - wire[i - 1]!.timestamp) >>> 0) / 8;
    pause = Math.max(pause, step - FRAME_MS);
  }
  return pause;
}

const packets = (r: Run): number => r.arrivals.reduce((a, b) => a + b, 0);
const lastArrival = (r: Run): number => r.arrivals.findLastIndex((n) => n > 0);

describe('server-owned interruptions over SIP with the OpenAI mock (issue 14)', () => {
  let mock: OpenAIMockServer;
  let srv: TestServer;
  let phone: Softphone;
  const profile = (tenant: string, number: string, bargeIn: string): string =>
    [
      `tenant: ${tenant}`,
      `numbers: ["${number}"]`,
      'agent:',
      '  provider: openai',
      `  barge_in: ${bargeIn}`,
    ].join('\n');
  beforeAll(async () => {
    srv = await startTestServer({
      logLevel: 'warn',
      dialplans: {
        'server.yaml': profile('srv', '201', '{ enabled: true }'),
        'provider.yaml': profile('prov', '202', '{ enabled: true, mode: provider }'),
        'off.yaml': profile('off', '203', '{ enabled: false }'),
      },
    });
    phone = await startPhone(PHONE_PORTS[0]);
  });
  beforeEach(async () => {
    // 2× real time: the reply is still streaming when the caller interrupts it (response.cancel applies).
    mock = await startOpenAIMock({ mode: 'ga', speedFactor: 2 });
    for (const tenant of ['srv', 'prov', 'off'])
      await srv.server.store.putCredential(tenant, 'openai', { apiKey: 'sk-test', url: mock.url });
    mock.enqueueTurn({ replyAudioPcm16: REPLY_PCM24K, replyText: 'Sure. Your last bill' });
    for (let i = 0; i < 3; i++) mock.enqueueTurn(silentTurn);
  });
  afterEach(async () => {
    await mock.close();
    expect(mock.violations).toEqual([]);
  });
  afterAll(async () => {
    await closePhone(phone);
    await srv.close();
  });

  const sent = (type: string): unknown[] =>
    mock.received.filter((m) => m.type === type).map((m) => m.message);
  const turnDetection = (): Record<string, unknown> | undefined =>
    (
      sent('session.update')[0] as {
        session: { audio?: { input?: { turn_detection?: Record<string, unknown> } } };
      }
    ).session.audio?.input?.turn_detection;

  for (const [label, sound] of [
    ['a 300 ms noise burst (cough)', noiseBurst(300)],
    ['a 450 ms "mhm"', hum(450)],
  ] as const) {
    it(`${label}: playout pauses and resumes the same item with nothing skipped, no truncate or cancel`, async () => {
      const before = await falseCount(srv);
      const r = await runCall(srv, phone, '201', sound);
      const heardMs = packets(r) * FRAME_MS;
      const match = matchReply(r.wire);
      const actions = r.decisions.map((d) => d.action);
      report(`interruptions server ${label}`, {
        soundAfterReplyStartMs: (r.soundSentTick - r.replyStartTick) * FRAME_MS,
        heardMs,
        replyMs: REPLY_FRAMES * FRAME_MS,
        pauseMs: longestPauseMs(r.wire),
        pausedAtPlayedMs: r.decisions[0]?.playedMs,
        resumedAtPlayedMs: r.decisions[1]?.playedMs,
        actions,
        falseInterruptions: r.falseInterruptions - before,
        ...match,
      });
      expect(turnDetection()).toMatchObject({ create_response: false, interrupt_response: false });
      expect(actions).toEqual(['paused', 'resumed']);
      expect(r.falseInterruptions - before).toBe(1);
      expect(heardMs).toBeGreaterThanOrEqual(0.9 * REPLY_FRAMES * FRAME_MS);
      // The RTP payloads are the reply's bytes from its first frame on, in order (the last, padded one aside):
      // the resumed audio continued the same item where it paused.
      expect(match.matchedFrames).toBeGreaterThanOrEqual(REPLY_FRAMES - 1);
      expect(match.sentFrames).toBe(REPLY_FRAMES);
      expect(r.decisions[1]?.playedMs).toBe(r.decisions[0]?.playedMs);
      expect(longestPauseMs(r.wire)).toBeGreaterThanOrEqual(100);
      expect(mock.truncations).toEqual([]);
      expect(sent('response.cancel')).toEqual([]);
      expect(mock.serverCancelled).toEqual([]);
      // The noise was not answered: one response (the reply), and the utterance removed from the conversation.
      expect(sent('response.create')).toHaveLength(1);
      expect(mock.deletedItems.map((d) => d.role)).toEqual(['user']);
    });
  }

  it('a real interruption (1.5 s of speech): agent audio stops within 400 ms of the onset, truncate = heard ±40 ms', async () => {
    const before = await falseCount(srv);
    const r = await runCall(srv, phone, '201', speech(1500));
    const lastAgentTick = lastArrival(r);
    const stopMs = (lastAgentTick - r.soundSentTick) * FRAME_MS;
    const truncate = (await mock.waitForMessage('conversation.item.truncate')) as { audio_end_ms: number };
    const heardMs = packets(r) * FRAME_MS;
    const match = matchReply(r.wire);
    report('interruptions server real interruption', {
      soundSentTick: r.soundSentTick,
      lastAgentTick,
      agentMsAfterCallerOnset: stopMs,
      heardMs,
      truncateAudioEndMs: truncate.audio_end_ms,
      truncateErrorMs: truncate.audio_end_ms - heardMs,
      actions: r.decisions.map((d) => d.action),
      falseInterruptions: r.falseInterruptions - before,
      ...match,
    });
    expect(r.soundSentTick).toBeGreaterThan(r.replyStartTick);
    expect(stopMs).toBeLessThanOrEqual(400);
    expect(Math.abs(truncate.audio_end_ms - heardMs)).toBeLessThanOrEqual(40);
    expect(r.decisions.map((d) => d.action)).toEqual(['paused', 'interrupted']);
    expect(r.falseInterruptions - before).toBe(0);
    // The client cancelled the reply still streaming (the server did not: interrupt_response false), then
    // answered the caller's turn.
    expect(sent('response.cancel')).toHaveLength(1);
    expect(mock.serverCancelled).toEqual([]);
    expect(sent('response.create')).toHaveLength(2);
    // What was heard was the reply's beginning, nothing else.
    expect(match.matchedFrames).toBe(match.sentFrames);
  });

  it('barge_in.enabled false: the mock is told interrupt_response:false and the reply plays in full', async () => {
    const r = await runCall(srv, phone, '203', speech(1500));
    const heardMs = packets(r) * FRAME_MS;
    const match = matchReply(r.wire);
    report('interruptions off', { heardMs, replyMs: REPLY_FRAMES * FRAME_MS, ...match });
    expect(turnDetection()).toMatchObject({ create_response: true, interrupt_response: false });
    expect(match.matchedFrames).toBeGreaterThanOrEqual(REPLY_FRAMES - 1);
    expect(heardMs).toBeGreaterThanOrEqual((REPLY_FRAMES - 1) * FRAME_MS);
    expect(mock.truncations).toEqual([]);
    expect(sent('response.cancel')).toEqual([]);
    expect(mock.serverCancelled).toEqual([]);
  });

  it('mode provider: today’s behaviour, the provider’s VAD cancels the reply on the same noise burst', async () => {
    const before = await falseCount(srv);
    const r = await runCall(srv, phone, '202', noiseBurst(300));
    const heardMs = packets(r) * FRAME_MS;
    report('interruptions provider noise burst', {
      heardMs,
      actions: r.decisions.map((d) => d.action),
      falseInterruptions: r.falseInterruptions - before,
    });
    expect(turnDetection()).toMatchObject({ create_response: true, interrupt_response: true });
    // (The caller's question itself was a 'nothing-playing' speech start.)
    expect(r.decisions.map((d) => d.action)).toEqual(['nothing-playing', 'interrupted']);
    expect(mock.serverCancelled).toHaveLength(1);
    expect(mock.truncations).toHaveLength(1);
    expect(heardMs).toBeLessThan(0.5 * REPLY_FRAMES * FRAME_MS);
    expect(r.falseInterruptions - before).toBe(0);
  });
});

/** switchboard_false_interruptions_total from /metrics (the series carries the instance label). */
async function falseCount(srv: TestServer): Promise<number> {
  const res = await fetch(`${srv.baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${srv.adminToken}` },
  });
  const text = await res.text();
  const m = /^switchboard_false_interruptions_total(?:\{[^}]*\})? (\d+)/m.exec(text);
  if (m === null) throw new Error('switchboard_false_interruptions_total missing from /metrics');
  return Number(m[1]);
}
