/**
 * Conformance end to end with a real softphone: baresip calls the production server (echo agent), streams
 * test/fixtures/audio/caller-billing-question.wav (8 kHz), and records what it hears. The echo agent plays
 * each caller turn back once it ends, so the recording must hold the caller's own speech, after it.
 * Ports: baresip SIP 43500, ctrl 43501, RTP 43560–43599 on 127.0.0.3.
 *
 * G.722: baresip (its g722 module, 16 kHz source and player) streams test/fixtures/audio/caller-wideband-16k.wav.
 * tcpdump on loopback is the wire witness: the 200 OK answers `9 G722/8000`, and RTP in both directions is
 * PT 9 with 160 octets per 20 ms packet and timestamps stepping exactly 160 per packet (RFC 3551 §4.5.2: the
 * 8000 Hz clock of 16 kHz audio). What baresip heard must be its own speech, and still wideband: energy
 * above 4 kHz, which no G.711 leg could carry.
 * Ports of the G.722 call: baresip SIP 127.0.0.150:55000, ctrl 127.0.0.1:55001, RTP 55100–55139.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile, writeWavFile } from '../../../src/media/wav.js';
import { energyAbove4kHz, findAudio, withSilence } from '../../support/audio-match.js';
import { activeMs, readPcm16Wav, rms, runBaresip, speechThenSilence } from '../../support/baresip.js';
import { LoopbackCapture, rtpPackets, timestampSteps } from '../../support/loopback-capture.js';
import type { UdpDatagram } from '../../support/pcap.js';
import {
  endedCalls,
  eventually,
  expectNothingLeaked,
  startConformanceServer,
  type ServerUnderTest,
} from './harness.js';

const SOURCE_WAV = fileURLToPath(
  new URL('../../fixtures/audio/caller-billing-question.wav', import.meta.url),
);

const BARESIP_HOST = '127.0.0.150';
const RTP_PORTS = [55100, 55139] as const;
const RATE_HZ = 16000;
/**
 * Silence before the speech: the call's first second (answer, agent start, RTP latching) is not all heard
 * by the agent, and the echo must hold the whole utterance.
 */
const LEAD_MS = 2000;
const SPEECH = readWavFile(
  fileURLToPath(new URL('../../fixtures/audio/caller-wideband-16k.wav', import.meta.url)),
);

describe('SIP conformance: baresip (production server, echo agent)', () => {
  let sut: ServerUnderTest;

  beforeAll(async () => {
    sut = await startConformanceServer();
  });
  afterAll(async () => {
    await sut?.close();
  });

  it('baresip hears its own speech back from the echo agent', { timeout: 60_000 }, async () => {
    const source = readPcm16Wav(readFileSync(SOURCE_WAV));
    // baresip hangs up when its source file ends: the speech, then silence while the echo plays back.
    const { path: padded, remove } = speechThenSilence(SOURCE_WAV);
    const run = await runBaresip(
      { sipHost: '127.0.0.3', sipPort: 43500, ctrlPort: 43501, sourceWav: padded, codecs: ['PCMU'] },
      [`/dial sip:agent@${sut.sipHost}:${sut.sipPort}`],
      // The speech, the VAD's end-of-turn silence, then the echo of the whole turn.
      2 * Math.ceil(source.durationMs / 1000) + 5,
    );
    remove();
    const log = `${run.stdout}\n${run.stderr}`.slice(-4000);
    await eventually(() => expect(endedCalls(sut), log).toHaveLength(1), 8000);
    expect(endedCalls(sut)[0]!.rtp.packetsReceived, log).toBeGreaterThan(100);
    await expectNothingLeaked(sut);

    expect(run.heardWav, `no -dec.wav dump\n${log}`).toBeDefined();
    const heard = readPcm16Wav(run.heardWav!);
    const sourceActive = activeMs(source);
    // The echo agent returns the whole turn, so baresip hears roughly as much speech as it sent (G.711,
    // jitter buffering and the VAD's edges shave a little off both ends).
    expect(heard.durationMs, log).toBeGreaterThan(source.durationMs * 0.7);
    expect(rms(heard.samples), log).toBeGreaterThan(rms(source.samples) * 0.3);
    expect(activeMs(heard), log).toBeGreaterThan(sourceActive * 0.6);
  });

  it(
    'negotiates PT 9 G722/8000, steps RTP timestamps by 160, and echoes wideband speech',
    { timeout: 90_000 },
    async () => {
      expect(SPEECH.sampleRateHz).toBe(RATE_HZ);
      // baresip hangs up when its source file ends: the speech, then silence while the echo plays back.
      const dir = mkdtempSync(join(tmpdir(), 'baresip-g722-'));
      const speechMs = (SPEECH.samples.length * 1000) / RATE_HZ;
      const source = join(dir, 'speech-then-silence.wav');
      writeWavFile(source, {
        ...SPEECH,
        samples: withSilence(SPEECH.samples, RATE_HZ, LEAD_MS, speechMs + 3000),
      });

      // baresip sends RTP from 127.0.0.1 (its RTP socket ignores net_interface), so RTP is told by its ports.
      const callsBefore = endedCalls(sut).length;
      const capture = await LoopbackCapture.start(
        `udp and (host ${BARESIP_HOST} or portrange ${RTP_PORTS[0]}-${RTP_PORTS[1]})`,
      );
      let datagrams: UdpDatagram[];
      let run: Awaited<ReturnType<typeof runBaresip>>;
      try {
        run = await runBaresip(
          {
            sipHost: BARESIP_HOST,
            sipPort: 55000,
            ctrlPort: 55001,
            sourceWav: source,
            audioRateHz: 16000,
            codecs: ['G722'],
            rtpPorts: RTP_PORTS,
          },
          [`/dial sip:agent@${sut.sipHost}:${sut.sipPort}`],
          Math.ceil((2 * speechMs + LEAD_MS + 3000) / 1000) + 5,
        );
      } finally {
        datagrams = await capture.stop();
        rmSync(dir, { recursive: true, force: true });
      }
      const log = `${run.stdout}\n${run.stderr}`.slice(-4000);
      // The suite's server is shared: this call is the one ended after those before it.
      await eventually(() => expect(endedCalls(sut), log).toHaveLength(callsBefore + 1), 8000);
      expect(endedCalls(sut).at(-1)!.rtp.packetsReceived, log).toBeGreaterThan(100);
      await expectNothingLeaked(sut);

      // SDP on the wire: baresip 1.0 offers "0 8 9 101" whatever audio_codecs says (G.711 first), and the
      // server answers 9 G722/8000 alone: wideband wins over the offer's order.
      const sip = datagrams.map((d) => d.payload.toString('latin1'));
      const invite = sip.find((m) => m.startsWith('INVITE '));
      expect(invite, log).toMatch(/^m=audio \d+ RTP\/AVP 0 (\d+ )*9( |\r)/m);
      expect(invite).toMatch(/^a=rtpmap:9 G722\/8000\r$/m);
      const ok = sip.find((m) => m.startsWith('SIP/2.0 200') && m.includes('m=audio'));
      expect(ok, log).toMatch(/^m=audio \d+ RTP\/AVP 9 101\r$/m);
      expect(ok).toMatch(/^a=rtpmap:9 G722\/8000\r$/m);

      // RTP both ways: PT 9, 160 octets per packet, timestamps +160 per packet.
      const fromBaresip = rtpPackets(datagrams, RTP_PORTS, 'from');
      const fromServer = rtpPackets(datagrams, RTP_PORTS, 'to');
      for (const [name, packets] of [
        ['baresip → server', fromBaresip],
        ['server → baresip', fromServer],
      ] as const) {
        expect(packets.length, name).toBeGreaterThan(100);
        expect(new Set(packets.map((p) => p.payloadType)), name).toEqual(new Set([9]));
        expect(new Set(packets.map((p) => p.payloadBytes)), name).toEqual(new Set([160]));
        const { inSpurt, spurtStarts } = timestampSteps(packets);
        expect(inSpurt.length, name).toBeGreaterThan(100);
        expect(new Set(inSpurt), name).toEqual(new Set([160]));
        // A talkspurt resumes on the 20 ms grid of the same media clock.
        for (const step of spurtStarts) expect(step % 160, name).toBe(0);
      }
      console.log(
        `G.722 baresip call: ${fromBaresip.length} packets from baresip, ${fromServer.length} from the server`,
      );

      // What baresip heard: its own speech (after the echo agent's end of turn), still wideband.
      expect(run.heardWav, `no -dec.wav dump\n${log}`).toBeDefined();
      const heard = readPcm16Wav(run.heardWav!);
      expect(heard.sampleRateHz).toBe(RATE_HZ);
      const echo = findAudio(SPEECH.samples, heard.samples, RATE_HZ);
      const sourceHigh = energyAbove4kHz(SPEECH.samples);
      const echoStart = Math.max(0, Math.round((echo.offsetMs * RATE_HZ) / 1000));
      const heardHigh = energyAbove4kHz(heard.samples.subarray(echoStart, echoStart + SPEECH.samples.length));
      console.log(
        `G.722 echo: offset ${echo.offsetMs.toFixed(0)} ms, envelope ${echo.envelopeScore.toFixed(3)}, ` +
          `waveform ${echo.waveformScore.toFixed(3)}, ` +
          `energy above 4 kHz ${(100 * heardHigh).toFixed(1)} % (source ${(100 * sourceHigh).toFixed(1)} %)`,
      );
      expect(echo.envelopeScore, log).toBeGreaterThan(0.9);
      // A faithful copy through two G.722 tandems (baresip → server, server → baresip): measured 0.977.
      expect(echo.waveformScore, log).toBeGreaterThan(0.9);
      expect(sourceHigh).toBeGreaterThan(0.01);
      // Wideband kept end to end (measured 1.6 % of 1.6 %); a G.711 leg anywhere would leave ~0 above 4 kHz.
      expect(heardHigh, log).toBeGreaterThan(sourceHigh * 0.5);
    },
  );
});
