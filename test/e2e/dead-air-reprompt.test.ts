/**
 * A silent caller (issue 14), through the production server: sipp sends −70 dBFS line noise, then only RFC
 * 3389 comfort-noise packets (PT 13). With `reprompt_after_s: 2`, `reprompts: 2`, `idle_timeout_s: 8` the
 * OpenAI mock receives two notes, 2 s apart in the server's media time, and then the server sends BYE with
 * reason idle-timeout — the noise and the CN packets counted as no activity.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import type { OpenAIMockServer } from '../support/openai-mock.js';
import { startOpenAIServerEnv, type OpenAIServerEnv } from '../support/openai-server-env.js';
import type { PcapDatagram } from '../support/pcap.js';
import { pcmaRtpDatagrams } from '../support/rtp-peer.js';
import { metricsText, type TestServer } from '../support/server.js';
import { sippCaller } from '../support/sipp-caller.js';
import { noise } from '../support/turn-audio.js';
import { report } from './call-harness.js';

const NOTE = 'The caller has been silent; check they are still there';

/** `noiseMs` of −70 dBFS noise in 20 ms PCMA packets, then a CN packet (−70 dBov) every 100 ms up to `totalMs`. */
function noiseThenComfortNoise(noiseMs: number, totalMs: number): PcapDatagram[] {
  const out = pcmaRtpDatagrams(noise(-70, noiseMs), 20);
  const last = out.at(-1)!;
  for (let t = noiseMs; t < totalMs; t += 100) {
    const k = t / 20;
    const rtp = Buffer.alloc(13);
    rtp[0] = 0x80;
    rtp[1] = 13;
    rtp.writeUInt16BE((1000 + k) & 0xffff, 2);
    rtp.writeUInt32BE((5000 + k * 160) >>> 0, 4);
    rtp.writeUInt32BE(0x1234_5678, 8);
    rtp[12] = 70; // noise level −70 dBov (RFC 3389 §3.1)
    out.push({ ...last, timeUs: out[0]!.timeUs + t * 1000, payload: rtp });
  }
  return out;
}

describe('a silent caller is re-prompted, then the idle timeout hangs up', () => {
  let env: OpenAIServerEnv;
  let dir: string;
  let mock: OpenAIMockServer;
  let srv: TestServer;
  beforeAll(async () => {
    env = await startOpenAIServerEnv('reprompt', () => [
      `  limits: { idle_timeout_s: 8, reprompt_after_s: 2, reprompts: 2, reprompt_text: ${JSON.stringify(NOTE)} }`,
    ]);
    ({ dir, mock, srv } = env);
  });
  afterAll(() => env.close());

  it('two notes 2 s apart, then BYE idle-timeout at 8 s; noise and CN are not activity', async () => {
    for (let i = 0; i < 4; i++) mock.enqueueTurn({ replyAudioPcm16: new Int16Array(0) });
    const caller = await sippCaller(srv, dir, {
      name: 'silent',
      ip: '127.0.1.31',
      speech: new Int16Array(0),
      datagrams: noiseThenComfortNoise(3000, 14_000),
      callMs: 14_000,
    });
    try {
      const notes: number[] = [];
      mock.onClientEvent = (type, m) => {
        if (type === 'conversation.item.create' && JSON.stringify(m).includes(NOTE))
          notes.push(caller.clock.ticks);
      };
      let endTick = -1;
      let reason: string | undefined;
      caller.call.session.once('ended', (e) => {
        endTick = caller.clock.ticks;
        reason = e.reason;
      });
      await eventually(() => expect(reason).toBeDefined(), 14_000);
      const r = await caller.sipp.result;
      const speechEvents = mock.received.filter((m) => m.type === 'input_audio_buffer.append').length;
      report('reprompt', {
        noteMs: notes.map((t) => t * 20),
        endMs: endTick * 20,
        reason,
        appendMessages: speechEvents,
        providerAudioMs: mock.audioReceivedMs(),
      });
      expect(reason).toBe('idle-timeout');
      expect(notes).toHaveLength(2);
      // Counted from the first tick after the call appeared (the session's clocks start a few ms before).
      expect(Math.abs(notes[0]! * 20 - 2000)).toBeLessThanOrEqual(100);
      expect(Math.abs((notes[1]! - notes[0]!) * 20 - 2000)).toBeLessThanOrEqual(40);
      expect(Math.abs(endTick * 20 - 8000)).toBeLessThanOrEqual(150);
      // The server's BYE reached the caller (sipp answers an unexpected BYE and leaves).
      expect(r.messages).toMatch(/BYE sip:/);
      // Each note asked for a response; the provider heard the line the whole time (noise, then CN silence).
      expect(mock.received.filter((m) => m.type === 'response.create')).toHaveLength(2);
      expect(mock.audioReceivedMs()).toBeGreaterThan(6000);
    } finally {
      await caller.close(2000);
    }
    const metrics = await metricsText(srv);
    expect(metrics).toMatch(/switchboard_reprompts_total(\{[^}]*\})? 2\b/);
    expect(mock.violations).toEqual([]);
  }, 40_000);
});
