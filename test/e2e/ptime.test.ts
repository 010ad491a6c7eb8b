/**
 * Packetization end to end (issue 10): sipp calls the production server (startTestServer, echo agent) with
 * a=ptime 10/30/40 and with 10 ms packets on a 20 ms offer, plays caller speech from a pcap, and a socket of
 * the test records what the server sends back. Asserted in media time: every packet carries exactly one
 * negotiated ptime of audio, RTP timestamps step by exactly ptime × 8, sequence numbers by one, the echoed
 * audio is the caller's speech, and no RTP port stays leased after the call.
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmsDbfs } from '../../src/media/dsp/level.js';
import { readWavFile } from '../../src/media/wav.js';
import { Softphone } from '../../src/softphone/softphone.js';
import { findAudio } from '../support/audio-match.js';
import { eventually } from '../support/eventually.js';
import { RtpCapture, pcapCallerScenario } from '../support/rtp-peer.js';
import { serverRecording } from '../support/call-audio.js';
import { describeSipp, startSipp } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';

const SPEECH_MS = 3000;
/** Caller speech, then the echo agent's end-of-turn silence window, then the same length of echo, plus slack. */
const CALL_MS = SPEECH_MS + 1500 + SPEECH_MS + 2000;

const fixture = fileURLToPath(new URL('../fixtures/audio/caller-billing-question.wav', import.meta.url));

describe('ptime end to end against the production server (sipp + pcap)', () => {
  let srv: TestServer;
  let dir: string;
  let speech: Int16Array;
  beforeAll(async () => {
    srv = await startTestServer({
      // Recorded: the caller channel is what the server's jitter buffer played, the reference for the echo.
      dialplans: { 'echo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, record: true }\n' },
      logLevel: 'info',
    });
    dir = await mkdtemp(join(tmpdir(), 'sb-ptime-'));
    const wav = readWavFile(fixture);
    expect(wav.sampleRateHz).toBe(8000);
    speech = wav.samples.subarray(0, SPEECH_MS * 8);
  });
  afterAll(async () => {
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    { offerMs: 10, callerPacketMs: 10, host: 21 },
    { offerMs: 30, callerPacketMs: 30, host: 22 },
    { offerMs: 40, callerPacketMs: 40, host: 23 },
    // A peer that ignores a=ptime: it asks for 20 ms and sends 10 ms packets.
    { offerMs: 20, callerPacketMs: 10, host: 24 },
  ])(
    'a=ptime:$offerMs with $callerPacketMs ms caller packets: server packets of $offerMs ms, echo heard, no port leaked',
    async ({ offerMs, callerPacketMs, host }) => {
      const ip = `127.0.0.${host}`;
      const mediaPort = 46000 + 20 * randomInt(0, 100);
      const scenario = await pcapCallerScenario(dir, `uac-ptime-${offerMs}-${callerPacketMs}`, {
        speech,
        packetMs: callerPacketMs,
        ptimeMs: offerMs,
        callMs: CALL_MS,
      });
      const capture = await RtpCapture.open(ip, mediaPort + 10);
      try {
        const sipp = startSipp({
          scenario,
          target: `127.0.0.1:${srv.sipPort}`,
          localIp: ip,
          localPort: 15000 + host * 10 + randomInt(0, 10),
          mediaIp: ip,
          mediaPort,
          service: '100',
          timeoutMs: CALL_MS + 15_000,
        });
        const recording = await serverRecording(srv);
        const r = await sipp.result;
        expect(r.exitCode, describeSipp(r)).toBe(0);
        // The answer names the ptime the server then sends (RFC 3264 §5: the offerer's a=ptime).
        expect(r.messages).toMatch(new RegExp(`a=ptime:${offerMs}\\r?\\n`));

        const audio = capture.packets.filter((p) => p.payloadType === 8);
        const step = offerMs * 8;
        expect(audio.length, 'server sent no audio').toBeGreaterThan(0);
        // RTP from the address the server advertised in its SDP (127.0.0.1 here).
        expect(new Set(capture.packets.map((p) => p.from.address))).toEqual(new Set(['127.0.0.1']));
        expect(new Set(audio.map((p) => p.ssrc)).size).toBe(1);
        expect(new Set(audio.map((p) => p.payload.length))).toEqual(new Set([step]));
        let exactSteps = 0;
        for (let i = 1; i < audio.length; i++) {
          const a = audio[i - 1]!;
          const b = audio[i]!;
          expect((b.sequence - a.sequence) & 0xffff).toBe(1);
          const dts = (b.timestamp - a.timestamp) >>> 0;
          // Between talkspurts the clock keeps running: a gap is a whole number of packets.
          expect(dts % step).toBe(0);
          if (dts === step) exactSteps++;
          else expect(b.marker).toBe(true);
        }
        // The echo is one talkspurt, at most split where the agent's reply chunks left the queue empty.
        expect(exactSteps).toBeGreaterThanOrEqual(audio.length - 5);
        const echoedMs = audio.length * offerMs;
        expect(echoedMs).toBeGreaterThan(SPEECH_MS * 0.8);

        // Every port back in the pool once the BYE has been handled.
        await eventually(() => expect(srv.server.rtpPorts.inUse, 'RTP ports still leased').toBe(0), 5000);

        // What came back is what the server heard. The recording's caller channel is the caller as the
        // jitter buffer played it (its envelope is the sent speech; a starved CPU may conceal a few frames,
        // which the echo then repeats faithfully), the agent channel what went out on RTP, one frame per
        // packet slot on the same clock: at 10/30/40 ms the RTP audio placed by timestamp must be in both.
        const sent = capture.pcmaByTimestamp();
        expect(rmsDbfs(sent)).toBeGreaterThan(-40);
        let played = { envelopeScore: 0, waveformScore: 0, offsetMs: 0 };
        let echo = played;
        await eventually(() => {
          const { caller, agent } = recording.read();
          expect(caller.length % step).toBe(0);
          played = findAudio(speech, caller, 8000);
          expect(played.envelopeScore).toBeGreaterThan(0.8);
          echo = findAudio(sent, caller, 8000);
          expect(echo.waveformScore).toBeGreaterThan(0.9);
          expect(findAudio(sent, agent, 8000).waveformScore).toBeGreaterThan(0.95);
        }, 5000);

        // Send timing, reported (not asserted: wall clock): arrival vs the packet's media time.
        const t0 = audio[0]!;
        let worstMs = 0;
        for (const p of audio) {
          const idealMs = t0.arrivalMs + ((p.timestamp - t0.timestamp) >>> 0) / 8;
          worstMs = Math.max(worstMs, Math.abs(p.arrivalMs - idealMs));
        }
        process.stdout.write(
          `ptime ${offerMs} ms (caller ${callerPacketMs} ms): ${audio.length} packets, ${echoedMs} ms echoed, ` +
            `${exactSteps}/${audio.length - 1} steps of ${step}, caller played vs sent speech: envelope ` +
            `${played.envelopeScore.toFixed(3)} waveform ${played.waveformScore.toFixed(3)}, echo vs played ` +
            `${echo.waveformScore.toFixed(3)}, ` +
            `worst arrival offset ${worstMs.toFixed(1)} ms\n`,
        );
      } finally {
        await capture.close();
      }
    },
    CALL_MS + 30_000,
  );

  it(
    'the built-in softphone asking for 30 ms packets gets them and hears the echo',
    async () => {
      const phone = new Softphone({
        logger: pino({ level: 'silent' }),
        rtpPortMin: 44600,
        rtpPortMax: 44799,
      });
      await phone.start();
      try {
        let ptimeMs = 0;
        const payloadBytes = new Set<number>();
        const result = await phone.call(srv.uri('100'), {
          playPcm8k: speech,
          ptimeMs: 30,
          durationMs: CALL_MS,
          onEstablished: (leg) => (ptimeMs = leg.ptimeMs),
          onRtp: (packet) => payloadBytes.add(packet.payloadLength),
        });
        expect(ptimeMs).toBe(30);
        expect(payloadBytes).toEqual(new Set([240]));
        // The softphone shares this process (and its starved CPU) with the server: its own playout may
        // conceal a few frames, so the echo is found by its envelope.
        expect(findAudio(speech, result.received, result.sampleRateHz).envelopeScore).toBeGreaterThan(0.8);
        expect(result.media.foreignDropped).toBe(0);
        await eventually(() => expect(srv.server.rtpPorts.inUse).toBe(0), 5000);
      } finally {
        await phone.close();
      }
    },
    CALL_MS + 30_000,
  );
});
