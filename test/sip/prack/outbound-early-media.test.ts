/**
 * RFC 3262 as UAC with early media, on the production server: `POST /v1/calls` through a tenant `sip-trunk`
 * whose `prack` is `required` dials a sipp UAS (uas-early-media.xml) that answers 183 reliably with SDP and
 * plays speech (a fixture as a PCMA pcap) as early media, then answers 200. The server PRACKs the 183
 * (RAck), starts the RTP leg on the 183, and the echo agent — which can only have heard that speech before
 * the 200, since sipp sends nothing after it — plays it back: found in what sipp's side received. A 200
 * moving the stream to another port moves the leg there (the echo arrives at the new port).
 * sipp on 127.0.0.141, SIP 54100–54101, media 54150/54151 (+10/+12 capture ports).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile } from '../../../src/media/wav.js';
import { findAudio } from '../../support/audio-match.js';
import { eventually } from '../../support/eventually.js';
import { writePcapUdp } from '../../support/pcap.js';
import { RtpCapture, pcmaRtpDatagrams } from '../../support/rtp-peer.js';
import { expectNoSecretsIn } from '../../support/secrets.js';
import { describeSipp, startSipp } from '../../support/sipp.js';
import { startTestServer, type TestServer } from '../../support/server.js';

const PEER = '127.0.0.141';
const SCENARIO = fileURLToPath(new URL('./uas-early-media.xml', import.meta.url));
const SPEECH = fileURLToPath(new URL('../../fixtures/audio/caller-account-number.wav', import.meta.url));
const DIALPLAN = { 'prack.yaml': 'tenant: prack\nnumbers: ["100"]\nagent: { provider: echo }\n' };
const TRUNK_PASSWORD = 'trunk-pw-9f3c1e77a2';

describe('outbound call with reliable 183 early media (PRACK, production server, sipp UAS)', () => {
  let srv: TestServer;
  let dir: string;
  let speech: Int16Array;
  let pcap: string;

  beforeAll(async () => {
    srv = await startTestServer({ dialplans: DIALPLAN });
    dir = await mkdtemp(join(tmpdir(), 'sb-prack-'));
    speech = readWavFile(SPEECH).samples;
    pcap = join(dir, 'early.pcap');
    writePcapUdp(pcap, pcmaRtpDatagrams(speech, 20, 0x5eed_0183));
  });
  afterAll(async () => {
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function scenario(): Promise<string> {
    // The 200 comes 1.5 s after the speech ends: the whole utterance is early media.
    const waitMs = Math.round(speech.length / 8) + 1500;
    const path = join(dir, 'uas-early-media.xml');
    const xml = (await readFile(SCENARIO, 'utf8')).replaceAll('__PCAP__', pcap);
    await writeFile(path, xml.replaceAll('__WAIT__', String(waitMs)));
    return path;
  }

  it.each([
    { name: 'the same SDP in the 200 keeps the early leg', sipPort: 54100, mediaPort: 54150, move: false },
    { name: 'a 200 with another port moves the leg there', sipPort: 54101, mediaPort: 54151, move: true },
  ])('$name; the agent hears the early audio', { timeout: 60_000 }, async ({ sipPort, mediaPort, move }) => {
    const put = await srv.api('PUT', '/v1/tenants/prack/credentials/sip-trunk', {
      uri: `sip:${PEER}:${sipPort}`,
      username: 'prack',
      password: TRUNK_PASSWORD,
      prack: 'required',
    });
    expect(put.status, JSON.stringify(put.json)).toBeLessThan(300);
    const earlyPort = mediaPort + 10;
    const answerPort = move ? mediaPort + 12 : earlyPort;
    const earlyCapture = await RtpCapture.open(PEER, earlyPort);
    const answerCapture = move ? await RtpCapture.open(PEER, answerPort) : earlyCapture;
    try {
      const peer = startSipp({
        scenario: await scenario(),
        localIp: PEER,
        localPort: sipPort,
        mediaIp: PEER,
        mediaPort,
        vars: { answerport: String(answerPort) },
        timeoutMs: 45_000,
      });
      await new Promise((r) => setTimeout(r, 400));
      const logsBefore = srv.logs.length;
      const dial = await srv.api('POST', '/v1/calls', { tenant: 'prack', to: '4155550100' });
      if (dial.status !== 201) {
        peer.kill();
        throw new Error(`dial: ${JSON.stringify(dial.json)}\n${describeSipp(await peer.result)}`);
      }
      // The echo agent replays the utterance it heard during early media (sipp sends nothing after the 200).
      const speechMs = Math.round(speech.length / 8);
      await eventually(() => {
        expect(answerCapture.packets.filter((p) => p.payloadType === 8).length).toBeGreaterThan(
          (0.8 * speechMs) / 20,
        );
      }, 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      expect((await srv.api('DELETE', `/v1/calls/${String(dial.json.id)}`)).status).toBe(204);
      const r = await peer.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);

      // Our INVITE required 100rel (the trunk's `prack: required`) and PRACKed the 183's RSeq 1.
      expect(r.messages).toMatch(/^Require: *100rel\r?$/m);
      expect(r.messages).toMatch(/^Supported: *timer, 100rel\r?$/m);
      expect(r.messages).toMatch(/^PRACK sip:sipp@127\.0\.0\.141/m);
      expect(r.messages).toMatch(/^RAck: 1 1 INVITE\r?$/m);
      expect(r.messages.match(/^PRACK /gm)?.length).toBe(1);
      const logs = srv.logs.slice(logsBefore).map((l) => JSON.parse(l) as { msg: string });
      const msgs = logs.map((l) => l.msg);
      expect(msgs).toContain('early media started');
      expect(msgs.includes('early media SDP changed; leg updated')).toBe(move);

      const heard = answerCapture.pcmaByTimestamp();
      const match = findAudio(speech, heard, 8000);
      const figures = {
        move,
        speechMs,
        echoPackets: answerCapture.packets.length,
        atEarlyPort: earlyCapture === answerCapture ? 'same' : earlyCapture.packets.length,
        offsetMs: match.offsetMs,
        envelope: Number(match.envelopeScore.toFixed(3)),
        waveform: Number(match.waveformScore.toFixed(3)),
      };
      console.log('[measure] early media echo', figures);
      expect(match.envelopeScore, JSON.stringify(figures)).toBeGreaterThan(0.8);
      // Moved: nothing of the reply went to the early port (the leg sent nothing before the agent spoke).
      if (move) expect(earlyCapture.packets.length).toBe(0);
      await eventually(async () => expect((await srv.api('GET', '/v1/calls')).json.calls).toHaveLength(0));
      expect(srv.server.rtpPorts.inUse).toBe(0);
    } finally {
      await earlyCapture.close();
      if (answerCapture !== earlyCapture) await answerCapture.close();
    }
  });

  it('runs last: the trunk password is in no log line', () => {
    expectNoSecretsIn(srv.logs, [TRUNK_PASSWORD]);
  });
});
