/**
 * Early media on a bridge transfer (RFC 3262 + RFC 3960) on the production server: a sipp caller (requiring
 * 100rel, so the inbound side is reliable too) talks to the echo agent; the call is bridged to a sipp target
 * (uas-early-media.xml) that answers 183 reliably with SDP and plays speech as early media before its 200.
 * The caller's side (an RtpCapture on the caller's SDP port) must receive that speech while the target is
 * still ringing — before the transfer's outcome — transcoded PCMA → PCMU by the bridge.
 * Caller sipp on 127.0.0.140:54010 (capture 54060); target sipp on 127.0.0.142:54200 (media 54250/+10).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile } from '../../../src/media/wav.js';
import { findAudio } from '../../support/audio-match.js';
import { eventually } from '../../support/eventually.js';
import { muLawDecode } from '../../support/g711-reference.js';
import { writePcapUdp } from '../../support/pcap.js';
import { RtpCapture, pcmaRtpDatagrams, type CapturedRtp } from '../../support/rtp-peer.js';
import { describeSipp, startSipp } from '../../support/sipp.js';
import { startTestServer, type TestServer } from '../../support/server.js';

const CALLER = '127.0.0.140';
const TARGET = '127.0.0.142';
const TARGET_SCENARIO = fileURLToPath(new URL('./uas-early-media.xml', import.meta.url));
const CALLER_SCENARIO = fileURLToPath(
  new URL('../conformance/scenarios/prack-uac-audio.xml', import.meta.url),
);
const SPEECH = fileURLToPath(new URL('../../fixtures/audio/caller-account-number.wav', import.meta.url));
/** Calls to "bridge" reach the echo agent, whose transfer tool bridges to the sipp target. */
const DIALPLAN =
  'tenant: bridging\nnumbers: ["bridge"]\nagent: { provider: echo, tools: { transfer_call: ' +
  `{ method: bridge, targets: { bridged: "sip:target@${TARGET}:54200" } } } }\n`;

/** PCMU packets placed by RTP timestamp from the first one, decoded to 8 kHz PCM. */
function pcmuByTimestamp(packets: readonly CapturedRtp[]): Int16Array {
  const audio = packets.filter((p) => p.payloadType === 0);
  if (audio.length === 0) return new Int16Array(0);
  const t0 = audio[0]!.timestamp;
  const end = Math.max(...audio.map((p) => ((p.timestamp - t0) >>> 0) + p.payload.length));
  const pcm = new Int16Array(Math.min(end, 8000 * 60));
  for (const p of audio) {
    const at = (p.timestamp - t0) >>> 0;
    for (let i = 0; i < p.payload.length && at + i < pcm.length; i++)
      pcm[at + i] = muLawDecode(p.payload[i]!);
  }
  return pcm;
}

describe('bridge transfer with early media from the target (PRACK, production server, sipp both sides)', () => {
  let srv: TestServer;
  let dir: string;

  beforeAll(async () => {
    srv = await startTestServer({ dialplans: { 'bridging.yaml': DIALPLAN } });
    dir = await mkdtemp(join(tmpdir(), 'sb-prack-bridge-'));
  });
  afterAll(async () => {
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'the caller hears the target’s early speech while it rings, then the bridge',
    { timeout: 60_000 },
    async () => {
      const speech = readWavFile(SPEECH).samples;
      const speechMs = Math.round(speech.length / 8);
      const pcap = join(dir, 'early.pcap');
      writePcapUdp(pcap, pcmaRtpDatagrams(speech, 20, 0x5eed_b183));
      const targetXml = (await readFile(TARGET_SCENARIO, 'utf8'))
        .replaceAll('__PCAP__', pcap)
        .replaceAll('__WAIT__', String(speechMs + 1500));
      const targetScenario = join(dir, 'target.xml');
      await writeFile(targetScenario, targetXml);
      const capture = await RtpCapture.open(CALLER, 54060);
      try {
        const target = startSipp({
          scenario: targetScenario,
          localIp: TARGET,
          localPort: 54200,
          mediaIp: TARGET,
          mediaPort: 54250,
          vars: { answerport: '54260' },
          timeoutMs: 50_000,
        });
        const caller = startSipp({
          scenario: CALLER_SCENARIO,
          target: `127.0.0.1:${srv.sipPort}`,
          localIp: CALLER,
          localPort: 54010,
          service: 'bridge',
          vars: { rtp: '54060', talk: String(speechMs + 9000) },
          timeoutMs: 50_000,
        });
        let callId = '';
        await eventually(() => {
          callId = srv.server.calls.liveCalls()[0]?.id ?? '';
          expect(callId).not.toBe('');
        }, 15_000);
        const before = capture.packets.length;
        const outcome = await srv.server.calls.transfer(callId, 'bridged');
        const bridgedAt = performance.now();
        expect(outcome).toMatchObject({ ok: true });
        const r = await caller.result;
        expect(r.exitCode, describeSipp(r)).toBe(0);
        const t = await target.result;
        expect(t.exitCode, describeSipp(t)).toBe(0);
        // The server PRACKed the target's reliable 183 (RSeq 1 of its INVITE).
        expect(t.messages).toMatch(/^RAck: 1 1 INVITE\r?$/m);

        // What reached the caller before the target's 200 (the transfer resolves on it): the early speech.
        const early = capture.packets.slice(before).filter((p) => p.arrivalMs < bridgedAt);
        const heard = pcmuByTimestamp(early);
        const match = findAudio(speech, heard, 8000);
        const figures = {
          speechMs,
          earlyPackets: early.length,
          offsetMs: match.offsetMs,
          envelope: Number(match.envelopeScore.toFixed(3)),
          waveform: Number(match.waveformScore.toFixed(3)),
        };
        console.log('[measure] bridge early media', figures);
        expect(early.length, JSON.stringify(figures)).toBeGreaterThan((0.8 * speechMs) / 20);
        // 1.0 on a quiet machine; 0.85 seen under load (the relay flushes a queue that ran 8 frames ahead).
        expect(match.envelopeScore, JSON.stringify(figures)).toBeGreaterThan(0.7);
        await eventually(() => {
          expect(srv.server.calls.size).toBe(0);
          expect(srv.server.rtpPorts.inUse).toBe(0);
        }, 15_000);
      } finally {
        await capture.close();
      }
    },
  );
});
