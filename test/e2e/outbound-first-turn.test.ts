/**
 * The first turn of an outbound call (issue 14), through the production server: POST /v1/calls dials a sipp
 * callee (PCMA) that plays a pcap. The OpenAI mock is watched on the server's media clock (ticks of the
 * call's RTP leg): while the callee says "hello" no response.create arrives and no agent audio is sent; the
 * greeting is requested once the provider's VAD ended the callee's words. A callee who says nothing is
 * greeted `outbound.greet_after_ms` (the request field here) after its first RTP.
 */
import { randomInt } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile } from '../../src/media/wav.js';
import { eventually } from '../support/eventually.js';
import type { OpenAIMockServer } from '../support/openai-mock.js';
import { startOpenAIServerEnv, type OpenAIServerEnv } from '../support/openai-server-env.js';
import { writePcapUdp } from '../support/pcap.js';
import { RtpCapture, pcmaRtpDatagrams } from '../support/rtp-peer.js';
import { describeSipp, SCENARIO_DIR, startSipp } from '../support/sipp.js';
import type { TestServer } from '../support/server.js';
import { waitForLiveCall } from '../support/live-call.js';
import { ServerClock } from '../support/sipp-caller.js';
import { fixture, fixturePcm, report } from './call-harness.js';

const PEER = '127.0.1.33';
const DELAY_MS = 600;

describe('outbound: the agent lets the callee speak first', () => {
  let env: OpenAIServerEnv;
  let dir: string;
  let mock: OpenAIMockServer;
  let srv: TestServer;
  beforeAll(async () => {
    env = await startOpenAIServerEnv(
      'outbound-turn',
      () => ['  greeting: Introduce yourself.', '  outbound: { greet_after_ms: 4000 }'],
      '["100"]',
    );
    ({ dir, mock, srv } = env);
  });
  afterAll(() => env.close());

  /** Dials the sipp callee, which plays `speech` DELAY_MS after the ACK; resolves once the call is live. */
  async function dialCallee(name: string, speech: Int16Array, body: Record<string, unknown> = {}) {
    const pcap = join(dir, `${name}.pcap`);
    writePcapUdp(pcap, pcmaRtpDatagrams(speech, 20));
    const xml = await readFile(join(SCENARIO_DIR, 'uas-pcap-callee.xml'), 'utf8');
    const scenario = join(dir, `${name}.xml`);
    await writeFile(
      scenario,
      xml
        .replaceAll('__PCAP__', pcap)
        .replaceAll('__DELAY_MS__', String(DELAY_MS))
        .replaceAll('__WAIT_MS__', '20000'),
    );
    const sipPort = 15000 + randomInt(0, 5000);
    const mediaPort = 46000 + 20 * randomInt(0, 200);
    const capture = await RtpCapture.open(PEER, mediaPort + 10);
    const sipp = startSipp({ scenario, localIp: PEER, localPort: sipPort, mediaPort, timeoutMs: 25_000 });
    await new Promise((r) => setTimeout(r, 300));
    const dial = await srv.api('POST', '/v1/calls', {
      tenant: 'acme',
      to: `sip:callee@${PEER}:${sipPort}`,
      ...body,
    });
    expect(dial.status, JSON.stringify(dial.json)).toBe(201);
    const call = await waitForLiveCall(srv, (c) => c.id === dial.json.id);
    const clock = new ServerClock(call);
    let latchTick = -1;
    expect(call.media.latched, 'the callee sent RTP before the test could watch').toBe(false);
    call.media.once('latched', () => (latchTick = clock.ticks));
    const moments: Array<{ type: string; tick: number }> = [];
    const at = (type: string): number => moments.find((m) => m.type === type)?.tick ?? -1;
    mock.onServerEvent = (type) => moments.push({ type, tick: clock.ticks });
    mock.onClientEvent = (type) => moments.push({ type: `client:${type}`, tick: clock.ticks });
    return {
      id: String(dial.json.id),
      capture,
      sipp,
      clock,
      at,
      latchTick: () => latchTick,
      async hangUp() {
        expect((await srv.api('DELETE', `/v1/calls/${dial.json.id}`)).status).toBe(204);
        const r = await sipp.result;
        await capture.close();
        expect(r.exitCode, describeSipp(r)).toBe(0);
        await eventually(() => expect(srv.server.calls.size).toBe(0), 5000);
      },
    };
  }

  it('no response.create and no agent audio until the callee has said hello', async () => {
    mock.enqueueTurn({ replyAudioPcm16: new Int16Array(0) }); // the provider's own answer to "hello"
    mock.enqueueTurn({ replyAudioPcm16: fixturePcm('agent-greeting.wav').subarray(0, 24_000) });
    for (let i = 0; i < 4; i++) mock.enqueueTurn({ replyAudioPcm16: new Int16Array(0) });
    // The callee answers, is silent 1 s, says its line, then listens.
    const words = readWavFile(fixture('caller-transfer-request.wav')).samples;
    const speech = new Int16Array(8000 * 1 + words.length + 8000 * 4);
    speech.set(words, 8000);
    const c = await dialCallee('hello', speech);
    await eventually(() => expect(c.at('client:response.create')).toBeGreaterThanOrEqual(0), 12_000);
    await eventually(() => expect(c.capture.packets.length).toBeGreaterThan(20), 5000);
    const stopped = c.at('input_audio_buffer.speech_stopped');
    const create = c.at('client:response.create');
    const firstAudioTick = c.clock.firstSentFrom(0);
    report('outbound hello', {
      latchTick: c.latchTick(),
      speechStartedTick: c.at('input_audio_buffer.speech_started'),
      speechStoppedTick: stopped,
      responseCreateTick: create,
      firstAgentFrameTick: firstAudioTick,
      createAfterStopMs: (create - stopped) * 20,
    });
    expect(stopped).toBeGreaterThan(c.latchTick() + 50); // ≥ 1 s of silence, then the words
    expect(create).toBeGreaterThanOrEqual(stopped);
    expect(firstAudioTick).toBeGreaterThanOrEqual(stopped);
    await c.hangUp();
    expect(mock.violations).toEqual([]);
  }, 40_000);

  it('a silent callee is greeted greet_after_ms (request field) after its first RTP', async () => {
    for (let i = 0; i < 4; i++)
      mock.enqueueTurn({ replyAudioPcm16: fixturePcm('agent-greeting.wav').subarray(0, 24_000) });
    const c = await dialCallee('silent', new Int16Array(8000 * 6), { outbound: { greet_after_ms: 1200 } });
    await eventually(() => expect(c.at('client:response.create')).toBeGreaterThanOrEqual(0), 8000);
    const create = c.at('client:response.create');
    const waitedMs = (create - c.latchTick()) * 20;
    report('outbound silent', { latchTick: c.latchTick(), responseCreateTick: create, waitedMs });
    expect(c.latchTick()).toBeGreaterThanOrEqual(0);
    expect(Math.abs(waitedMs - 1200)).toBeLessThanOrEqual(40);
    expect(c.at('input_audio_buffer.speech_started')).toBe(-1);
    await c.hangUp();
    expect(mock.violations).toEqual([]);
  }, 40_000);

  it('refuses a bad greet_after_ms with 400 and the zod issue', async () => {
    const res = await srv.api('POST', '/v1/calls', {
      tenant: 'acme',
      to: `sip:callee@${PEER}:5060`,
      outbound: { greet_after_ms: -5 },
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json)).toMatch(/greet_after_ms/);
  });
});
