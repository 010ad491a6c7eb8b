/**
 * Conformance: a codec change mid-call on the production server (echo agent), RFC 3264 §8.3.2 and RFC 3261
 * §14.2. sipp calls on PCMU and plays speech; a re-INVITE offering PCMA only is answered with PCMA and the
 * caller then plays sip-tester's own PCMA pcap (/usr/share/sip-tester/g711a.pcap); a re-INVITE offering
 * G.729 only gets 488 and the call stays on PCMA while the caller speaks again. A socket of the test
 * records everything the server sends (scenarios/codec-switch.xml advertises it); its audio is decoded
 * with an independent G.711 (alawmulaw), placed by RTP timestamp, and each echo is found in it. Asserted
 * in media time: packet types, sequence numbers and timestamps across the switch.
 * By UPDATE the call goes to Opus and the server's RFC 4733 digits follow the new clock (48 kHz).
 * Ports: sipp on 127.0.0.72, SIP 49220–49221, media 49270/49272 (+10: the test's RTP sockets).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alaw, mulaw } from 'alawmulaw';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile } from '../../../src/media/wav.js';
import { findAudio, type AudioMatch } from '../../support/audio-match.js';
import { readPcapUdp, writePcapUdp, type PcapDatagram } from '../../support/pcap.js';
import { RtpCapture, pcmaRtpDatagrams, type CapturedRtp } from '../../support/rtp-peer.js';
import { SIPP_PCAP_DIR, describeSipp, startSipp } from '../../support/sipp.js';
import {
  endedCalls,
  expectEndedSince,
  expectNothingLeaked,
  logsWith,
  startConformanceServer,
  until,
  type ServerUnderTest,
} from './harness.js';

const PEER = '127.0.0.72';
const SIP_PORT = 49220;
const MEDIA_PORT = 49270;
const SCENARIO = fileURLToPath(new URL('./scenarios/codec-switch.xml', import.meta.url));
const UPDATE_SCENARIO = fileURLToPath(new URL('./scenarios/update-codec.xml', import.meta.url));
const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../fixtures/audio/${name}.wav`, import.meta.url));

/** The echo agent replies after 500 ms of silence, then repeats the turn; slack for a loaded machine. */
const REPLY_SLACK_MS = 1500 + 2500;

/** 8 kHz speech as 20 ms PCMU RTP packets, PT 0: the PCMA packetization with µ-law (alawmulaw) inside. */
function pcmuDatagrams(pcm: Int16Array, ssrc: number): PcapDatagram[] {
  const ulaw = Buffer.from(mulaw.encode(pcm));
  return pcmaRtpDatagrams(pcm, 20, ssrc).map((d, k) => {
    const rtp = Buffer.from(d.payload);
    rtp[1] = rtp[1]! & 0x80;
    rtp.fill(0xff, 12);
    ulaw.copy(rtp, 12, k * 160, Math.min(ulaw.length, (k + 1) * 160));
    return { ...d, payload: rtp };
  });
}

/** The speech inside an RTP pcap of PCMA packets, placed by timestamp (the reference for its echo). */
function pcmaOfPcap(datagrams: readonly PcapDatagram[]): Int16Array {
  const first = datagrams[0]!.payload.readUInt32BE(4);
  const last = datagrams.at(-1)!;
  const out = new Int16Array(((last.payload.readUInt32BE(4) - first) >>> 0) + last.payload.length - 12);
  for (const d of datagrams) {
    const at = (d.payload.readUInt32BE(4) - first) >>> 0;
    out.set(alaw.decode(d.payload.subarray(12)).subarray(0, out.length - at), at);
  }
  return out;
}

/** Audio of `packets`, decoded and placed by RTP timestamp from the first packet of the stream (`origin`). */
function byTimestamp(packets: readonly CapturedRtp[], origin: number, end: number): Int16Array {
  const out = new Int16Array(Math.min(end, 8000 * 120));
  for (const p of packets) {
    const at = (p.timestamp - origin) >>> 0;
    if (at >= out.length) continue;
    const pcm = p.payloadType === 8 ? alaw.decode(p.payload) : mulaw.decode(p.payload);
    out.set(pcm.subarray(0, out.length - at), at);
  }
  return out;
}

const round = (m: AudioMatch): Record<string, number> => ({
  offsetMs: Math.round(m.offsetMs),
  envelope: Number(m.envelopeScore.toFixed(3)),
  waveform: Number(m.waveformScore.toFixed(3)),
});

describe('SIP conformance: codec change mid-call (production server, echo agent)', () => {
  let sut: ServerUnderTest;
  let dir: string;

  beforeAll(async () => {
    sut = await startConformanceServer();
    dir = await mkdtemp(join(tmpdir(), 'sb-codec-switch-'));
  });
  afterAll(async () => {
    await sut?.close();
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await expectNothingLeaked(sut);
  });

  it(
    'PCMU → PCMA by re-INVITE: answered with PCMA, RTP switches both ways, the agent keeps answering; G.729 only gets 488 and changes nothing',
    { timeout: 90_000 },
    async () => {
      const speech1 = readWavFile(fixture('caller-billing-question')).samples.subarray(0, 3000 * 8);
      const speech3 = readWavFile(fixture('caller-account-number')).samples;
      const sipTester = readPcapUdp(join(SIPP_PCAP_DIR, 'g711a.pcap'));
      const speech2 = pcmaOfPcap(sipTester);
      const pcmu = join(dir, 'speech-pcmu.pcap');
      const pcma2 = join(dir, 'speech-pcma.pcap');
      writePcapUdp(pcmu, pcmuDatagrams(speech1, 0x5eed_0001));
      writePcapUdp(pcma2, pcmaRtpDatagrams(speech3, 20, 0x5eed_0003));
      const waitFor = (pcm: Int16Array): number => Math.round(2 * (pcm.length / 8) + REPLY_SLACK_MS);
      const scenario = join(dir, 'codec-switch.xml');
      await writeFile(
        scenario,
        (await readFile(SCENARIO, 'utf8'))
          .replaceAll('__PCAP_PCMU__', pcmu)
          .replaceAll('__PCAP_PCMA__', join(SIPP_PCAP_DIR, 'g711a.pcap'))
          .replaceAll('__PCAP_PCMA2__', pcma2)
          .replaceAll('__WAIT1__', String(waitFor(speech1)))
          .replaceAll('__WAIT2__', String(waitFor(speech2)))
          .replaceAll('__WAIT3__', String(waitFor(speech3))),
      );

      const before = endedCalls(sut).length;
      const started = logsWith(sut, 'call started').length;
      const capture = await RtpCapture.open(PEER, MEDIA_PORT + 10);
      try {
        const totalMs = waitFor(speech1) + waitFor(speech2) + waitFor(speech3);
        const peer = startSipp({
          scenario,
          target: sut.target,
          localIp: PEER,
          localPort: SIP_PORT,
          mediaIp: PEER,
          mediaPort: MEDIA_PORT,
          service: 'agent',
          timeoutMs: totalMs + 20_000,
        });
        const r = await peer.result;
        expect(r.exitCode, describeSipp(r)).toBe(0);
        await expectEndedSince(sut, before, ['caller-bye']);

        // One call, one agent session, from PCMU to PCMA once; the G.729 offer was refused with 488.
        expect(logsWith(sut, 'call started').slice(started)).toHaveLength(1);
        expect(logsWith(sut, 'RTP codec switched').map((l) => l.codec)).toEqual(['PCMA']);
        const answers = [
          ...r.messages.matchAll(
            /SIP\/2\.0 200 OK[\s\S]*?CSeq: 2 INVITE[\s\S]*?\r?\n\r?\n([\s\S]*?)(?=\r?\n\r?\n|$)/g,
          ),
        ];
        expect(answers.length, describeSipp(r)).toBeGreaterThan(0);
        expect(answers[0]![1]).toMatch(/^m=audio \d+ RTP\/AVP 8 101\r?$/m);
        expect(answers[0]![1]).toMatch(/^a=rtpmap:8 PCMA\/8000\r?$/m);
        expect(answers[0]![1]).not.toMatch(/PCMU/);
        expect(r.messages).toMatch(/SIP\/2\.0 488 [^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*?CSeq: 3 INVITE/);

        // What the caller received: PCMU, then only PCMA, one stream (same SSRC, clock and numbering).
        const audio = capture.packets.filter((p) => p.payloadType === 0 || p.payloadType === 8);
        const firstPcma = audio.findIndex((p) => p.payloadType === 8);
        const pcmuPart = audio.slice(0, firstPcma);
        const pcmaPart = audio.slice(firstPcma);
        const figures = {
          pcmu: pcmuPart.length,
          pcma: pcmaPart.length,
          otherTypes: capture.packets.length - audio.length,
        };
        expect(firstPcma, JSON.stringify(figures)).toBeGreaterThan(0);
        expect(pcmaPart.every((p) => p.payloadType === 8)).toBe(true);
        expect(new Set(audio.map((p) => p.ssrc)).size).toBe(1);
        for (let i = 1; i < audio.length; i++) {
          expect((audio[i]!.sequence - audio[i - 1]!.sequence) & 0xffff).toBe(1);
          // 20 ms packets on one 8 kHz clock: silence between replies is a whole number of packets.
          expect(((audio[i]!.timestamp - audio[i - 1]!.timestamp) >>> 0) % 160).toBe(0);
        }
        expect(new Set(audio.map((p) => p.payload.length))).toEqual(new Set([160]));

        // Each echo is what the caller said on the codec in use then: PCMU speech in PT 0, the sip-tester
        // pcap and the speech after the 488 in PT 8, the latter after the former.
        const origin = audio[0]!.timestamp;
        const last = audio.at(-1)!;
        const end = ((last.timestamp - origin) >>> 0) + 160;
        const heardPcmu = byTimestamp(pcmuPart, origin, end);
        const heardPcma = byTimestamp(pcmaPart, origin, end);
        const echo1 = findAudio(speech1, heardPcmu, 8000);
        const echo2 = findAudio(speech2, heardPcma, 8000);
        const echo3 = findAudio(speech3, heardPcma, 8000);
        console.log('[measure] codec switch', {
          ...figures,
          echo1: round(echo1),
          echo2: round(echo2),
          echo3: round(echo3),
        });
        expect(echo1.envelopeScore).toBeGreaterThan(0.8);
        expect(echo2.envelopeScore).toBeGreaterThan(0.8);
        expect(echo3.envelopeScore).toBeGreaterThan(0.8);
        expect(echo2.offsetMs).toBeGreaterThan(echo1.offsetMs + speech1.length / 8);
        expect(echo3.offsetMs).toBeGreaterThan(echo2.offsetMs + speech2.length / 8);
      } finally {
        await capture.close();
      }
    },
  );

  it('PCMU → Opus by UPDATE: answered with Opus, RFC 4733 digits then go at 48 kHz; a G.729-only UPDATE gets 488', async () => {
    const before = endedCalls(sut).length;
    const switchedBefore = logsWith(sut, 'RTP codec switched').length;
    const capture = await RtpCapture.open(PEER, MEDIA_PORT + 12);
    try {
      const peer = startSipp({
        scenario: UPDATE_SCENARIO,
        target: sut.target,
        localIp: PEER,
        localPort: SIP_PORT + 1,
        mediaIp: PEER,
        mediaPort: MEDIA_PORT + 2,
        service: 'agent',
        vars: { hold: '4000' },
        timeoutMs: 25_000,
      });
      await until(() => logsWith(sut, 'RTP codec switched').length > switchedBefore, 10_000, 'the switch');
      expect(logsWith(sut, 'RTP codec switched').at(-1)).toMatchObject({ codec: 'opus', payloadType: 111 });
      const call = sut.srv.server.calls.liveCalls()[0]!;
      await call.media.sendDtmf('5');
      const r = await peer.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);
      await expectEndedSince(sut, before, ['caller-bye']);
      expect(r.messages).toMatch(/SIP\/2\.0 488 [^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*?CSeq: 3 UPDATE/);

      // One digit as the answer negotiated it: PT 110, one timestamp (RFC 4733 §2.5.1.1), event 5, and the
      // final duration of 160 ms counted on the 48 kHz clock (7680), end packet sent three times (§2.5.1.4).
      const events = capture.packets.filter((p) => p.payloadType === 110);
      const ends = events.filter((p) => (p.payload[1]! & 0x80) !== 0);
      console.log('[measure] UPDATE to opus', {
        packets: capture.packets.length,
        events: events.length,
        ends: ends.length,
        duration: ends[0]?.payload.readUInt16BE(2),
      });
      expect(events.length).toBeGreaterThanOrEqual(4);
      expect(new Set(events.map((p) => p.timestamp)).size).toBe(1);
      expect(new Set(events.map((p) => p.payload[0]))).toEqual(new Set([5]));
      expect(ends).toHaveLength(3);
      expect(ends.map((p) => p.payload.readUInt16BE(2))).toEqual([7680, 7680, 7680]);
    } finally {
      await capture.close();
    }
  });
});
