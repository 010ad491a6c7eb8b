/**
 * Answering-machine detection on outbound calls through the production server (issue 18): `POST /v1/calls`
 * with `amd` dials a sipp UAS on 127.0.1.80 that answers and plays a pcap — a voicemail greeting (espeak-ng)
 * ending in a 1 kHz beep, or a short "Hello?" — while an RtpCapture records what the server sends. The
 * agent is the local echo provider (its greeting is a beep, played at once).
 * Ports on 127.0.1.80: sipp SIP 43800–43801, media 43850–43851 (+10 for the capture).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { startOpenAIMock } from '../support/openai-mock.js';
import { writePcapUdp } from '../support/pcap.js';
import { pcmaRtpDatagrams, RtpCapture } from '../support/rtp-peer.js';
import { describeSipp, startSipp } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { concat, silence, speak, tone } from '../support/amd-audio.js';
import { decodeAlawSample } from '../../src/media/codecs/g711.js';
import { readWavFile } from '../../src/media/wav.js';

const PEER = '127.0.1.80';
const DIALPLAN = {
  'vm.yaml':
    'tenant: vm\nnumbers: ["200"]\nagent: { provider: openai, greeting: "Hello, this is Switchboard.", record: true }\n',
  'demo.yaml':
    'tenant: demo\nnumbers: ["100"]\nagent: { provider: echo, greeting: "Hello, this is Switchboard." }\n',
};
const SCENARIO = join(import.meta.dirname, 'uas-pcap-wait-bye.xml');

interface LogLine {
  readonly msg?: string;
  readonly reason?: string;
  readonly amd?: {
    result: string;
    cue: string;
    decisionMs: number;
    speechStartMs?: number;
    greetingMs?: number;
  };
}

/** Share of a 20 ms frame's energy at `hz` (Goertzel): ≈ 1 for that tone alone. */
function tonePurity(pcm: Int16Array, hz: number, rateHz = 8000): number {
  const coeff = 2 * Math.cos((2 * Math.PI * hz) / rateHz);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (const x of pcm) {
    const s = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
    energy += x * x;
  }
  return energy === 0 ? 0 : (2 * (s1 * s1 + s2 * s2 - coeff * s1 * s2)) / (pcm.length * energy);
}

/** A voicemail greeting (espeak-ng): 300 ms silence, the words, 400 ms, a 500 ms 1 kHz beep, 8 s silence. */
function voicemailGreeting(text: string, voice: string): { audio: Int16Array; beepEndMs: number } {
  const greeting = speak(8000, text, voice, 160);
  const audio = concat([
    silence(8000, 300),
    greeting,
    silence(8000, 400),
    tone(8000, 500, [1000], -16),
    silence(8000, 8000),
  ]);
  return { audio, beepEndMs: 300 + greeting.length / 8 + 400 + 500 };
}

function parsed(logs: readonly string[]): LogLine[] {
  return logs.flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });
}

describe('AMD on outbound calls (sipp UAS playing a pcap)', () => {
  let srv: TestServer;
  let tmp: string;

  beforeAll(async () => {
    srv = await startTestServer({ dialplans: DIALPLAN, logLevel: 'info' });
    tmp = await mkdtemp(join(tmpdir(), 'sb-amd-'));
  });
  afterAll(async () => {
    await srv?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  async function callee(name: string, audio: Int16Array, port: number) {
    const pcap = join(tmp, `${name}.pcap`);
    writePcapUdp(pcap, pcmaRtpDatagrams(audio, 20));
    const xml = (await readFile(SCENARIO, 'utf8')).replaceAll('__PCAP__', pcap);
    const scenario = join(tmp, `${name}.xml`);
    await writeFile(scenario, xml);
    const capture = await RtpCapture.open(PEER, port + 50 + 10);
    const sipp = startSipp({
      scenario,
      localIp: PEER,
      localPort: port,
      mediaIp: PEER,
      mediaPort: port + 50,
      timeoutMs: 30_000,
    });
    await new Promise((r) => setTimeout(r, 400));
    return { sipp, capture };
  }

  it('rejects a voicemail AMD without a message (400 with the zod issue)', async () => {
    const r = await srv.api('POST', '/v1/calls', {
      tenant: 'demo',
      to: `sip:bot@${PEER}:43809`,
      amd: { on_machine: 'voicemail' },
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.json)).toMatch(/voicemail_message/);
  });

  it(
    'a voicemail greeting ending in a 1 kHz beep → machine at the beep, BYE with amd-machine',
    { timeout: 60_000 },
    async () => {
      const { audio, beepEndMs } = voicemailGreeting(
        'Hi, you have reached Jenny. I am not available right now. Please leave a message after the tone.',
        'en-us+f2',
      );
      const { sipp, capture } = await callee('voicemail', audio, 43800);
      const before = srv.logs.length;
      const dial = await srv.api('POST', '/v1/calls', {
        tenant: 'demo',
        to: `sip:bot@${PEER}:43800`,
        amd: { enabled: true, on_machine: 'hangup' },
      });
      if (dial.status !== 201) sipp.kill();
      const why = dial.status === 201 ? '' : describeSipp(await sipp.result);
      expect(dial.status, `${JSON.stringify(dial.json)} ${why}`).toBe(201);
      const r = await sipp.result;
      await capture.close();
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(r.messages).toMatch(/^BYE sip:/m);
      const lines = parsed(srv.logs.slice(before));
      const ended = await eventually(() => {
        const l = parsed(srv.logs.slice(before)).find((x) => x.msg === 'call ended');
        if (l === undefined) throw new Error('no call ended log');
        return l;
      });
      const decided = lines.find((x) => x.msg === 'answering-machine detection decided');
      console.log(
        `AMD e2e voicemail: beep ends at ${beepEndMs} ms of callee audio; decision ${JSON.stringify(decided?.amd)}`,
      );
      expect(ended.reason).toBe('amd-machine');
      expect(ended.amd).toMatchObject({ result: 'machine', cue: 'beep' });
      // Media time of the callee's audio: the beep is reported when it ends (+ up to 60 ms to confirm); RTP
      // latching and the jitter buffer may shift the start by a few frames (tolerance 200 ms).
      expect(Math.abs((ended.amd?.decisionMs ?? 0) - beepEndMs)).toBeLessThanOrEqual(200);
      // The agent greeted at once: its audio reached the callee before the decision.
      expect(capture.packets.length).toBeGreaterThan(0);
    },
  );

  it(
    'a short "Hello?" → human within 1.5 s of the word, the greeting not delayed',
    { timeout: 60_000 },
    async () => {
      const hello = speak(8000, 'Hello?', 'en-us', 160);
      const audio = concat([silence(8000, 500), hello, silence(8000, 8000)]);
      const { sipp, capture } = await callee('human', audio, 43801);
      const before = srv.logs.length;
      const t0 = performance.now();
      const dial = await srv.api('POST', '/v1/calls', {
        tenant: 'demo',
        to: `sip:bot@${PEER}:43801`,
        amd: { enabled: true, on_machine: 'hangup' },
      });
      expect(dial.status, JSON.stringify(dial.json)).toBe(201);
      const answeredAt = performance.now();
      const decided = await eventually(() => {
        const l = parsed(srv.logs.slice(before)).find((x) => x.msg === 'answering-machine detection decided');
        if (l === undefined) throw new Error('no decision yet');
        return l;
      });
      const firstPacket = capture.packets[0];
      expect(firstPacket, 'the agent greeted').toBeDefined();
      const greetingAfterAnswerMs = (firstPacket?.arrivalMs ?? 0) - answeredAt;
      console.log(
        `AMD e2e human: decision ${JSON.stringify(decided.amd)}; POST took ${Math.round(answeredAt - t0)} ms; ` +
          `first agent RTP ${Math.round(greetingAfterAnswerMs)} ms after the answer`,
      );
      expect(decided.amd).toMatchObject({ result: 'human', cue: 'cadence' });
      expect((decided.amd?.decisionMs ?? 0) - (decided.amd?.speechStartMs ?? 0)).toBeLessThan(1500);
      // Not held for the decision: the greeting's first packet came before the decision's media time.
      expect(greetingAfterAnswerMs).toBeLessThan(decided.amd?.decisionMs ?? 0);
      expect((await srv.api('DELETE', `/v1/calls/${String(dial.json.id)}`)).status).toBe(204);
      const r = await sipp.result;
      await capture.close();
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const ended = await eventually(() => {
        const l = parsed(srv.logs.slice(before)).find((x) => x.msg === 'call ended');
        if (l === undefined) throw new Error('no call ended log');
        return l;
      });
      expect(ended.reason).toBe('api-hangup');
    },
  );

  it(
    'voicemail: the message starts within 1 s after the beep, then BYE with voicemail-left',
    { timeout: 60_000 },
    async () => {
      const mock = await startOpenAIMock({ mode: 'ga' });
      try {
        await srv.server.store.putCredential('vm', 'openai', { apiKey: 'sk-test', url: mock.url });
        const { audio } = voicemailGreeting(
          'Hello, you have reached the Smiths. Please leave a message after the tone.',
          'en-us',
        );
        const { sipp, capture } = await callee('voicemail-drop', audio, 43802);
        // Every reply of the mock (the greeting, replies its VAD triggers during the greeting, the message) is
        // 2 s of a tone, each reply its own frequency; the reply served after the voicemail instruction is the
        // message, and its frequency finds it at the UAS.
        for (let i = 0; i < 12; i++) {
          mock.enqueueTurn({
            replyAudioPcm16: tone(mock.outputSampleRateHz as 8000, 2000, [500 + 50 * i], -12),
            replyText: `reply ${i}`,
          });
        }
        const served: { index: number; afterInstruction: boolean }[] = [];
        const nextTurn = mock.nextTurn.bind(mock);
        mock.nextTurn = () => {
          const instructed = mock.received.some(
            (m) =>
              m.type === 'conversation.item.create' && JSON.stringify(m.message).includes('word for word'),
          );
          served.push({ index: served.length, afterInstruction: instructed });
          return nextTurn();
        };
        const before = srv.logs.length;
        const dial = await srv.api('POST', '/v1/calls', {
          tenant: 'vm',
          to: `sip:bot@${PEER}:43802`,
          amd: { enabled: true, on_machine: 'voicemail', voicemail_message: 'Hi, this is Acme calling.' },
        });
        expect(dial.status, JSON.stringify(dial.json)).toBe(201);
        const r = await sipp.result;
        await capture.close();
        expect(r.exitCode, describeSipp(r)).toBe(0);
        const ended = await eventually(() => {
          const l = parsed(srv.logs.slice(before)).find((x) => x.msg === 'call ended');
          if (l === undefined) throw new Error('no call ended log');
          return l;
        });
        expect(ended.reason).toBe('voicemail-left');
        expect(ended.amd).toMatchObject({ result: 'machine' });
        // On the call's own clock: the recording holds the callee's audio (as the server heard it) and the
        // agent's (as sent on RTP) one frame per 20 ms slot, so the beep's end and the message's start are
        // measured in media time whatever the greeting's timing or the machine's load.
        const message = served.find((t) => t.afterInstruction);
        expect(message, 'a reply was asked for after the beep').toBeDefined();
        const messageHz = 500 + 50 * (message?.index ?? 0);
        const rec = await eventually(() =>
          readWavFile(join(srv.recordingsDir, 'vm', String(dial.json.id), 'audio.wav')),
        );
        expect(rec.channels).toBe(2);
        const frame = (rec.sampleRateHz * 20) / 1000;
        const lane = (ch: number, i: number): Int16Array => {
          const pcm = new Int16Array(frame);
          for (let k = 0; k < frame; k++) pcm[k] = rec.samples[(i * frame + k) * 2 + ch] ?? 0;
          return pcm;
        };
        const frames = Math.floor(rec.samples.length / 2 / frame);
        let beepFrames = 0;
        let beepEnd = -1;
        for (let i = 0; i < frames; i++) {
          if (tonePurity(lane(0, i), 1000, rec.sampleRateHz) > 0.5) beepFrames++;
          else if (beepFrames >= 10) {
            beepEnd = i;
            break;
          } else beepFrames = 0;
        }
        expect(beepEnd, 'the beep is in the recording').toBeGreaterThan(0);
        let messageStart = -1;
        for (let i = 0; i < frames && messageStart < 0; i++) {
          if (tonePurity(lane(1, i), messageHz, rec.sampleRateHz) > 0.5) messageStart = i;
        }
        expect(messageStart, 'the message was heard').toBeGreaterThan(0);
        const messageAfterBeepMs = (messageStart - beepEnd) * 20;
        // At the UAS: the whole message reached the callee.
        const pcm = new Int16Array(160);
        const ofMessage = capture.packets
          .filter((p) => p.payloadType === 8)
          .filter((p) => {
            for (let i = 0; i < 160; i++) pcm[i] = decodeAlawSample(p.payload[i] ?? 0xd5);
            return tonePurity(pcm, messageHz) > 0.5;
          });
        console.log(
          `AMD e2e voicemail drop: message (reply ${message?.index}, ${messageHz} Hz) at the UAS ` +
            `${messageAfterBeepMs} ms (RTP time) after the beep ended; ${ofMessage.length} packets of it before the ` +
            `BYE; ${JSON.stringify(ended.amd)}`,
        );
        expect(messageAfterBeepMs).toBeGreaterThanOrEqual(0);
        expect(messageAfterBeepMs).toBeLessThan(1000);
        // The whole 2 s message played before the BYE (100 packets of 20 ms).
        expect(ofMessage.length).toBeGreaterThanOrEqual(100);
        expect(mock.violations).toEqual([]);
      } finally {
        await mock.close();
      }
    },
  );
});
