/**
 * Issue 11, RTP hijack before latching: the caller's SDP address is private (loopback here, treated like
 * NAT), so before the fix the server latched to whoever sent the first valid RTP packet. An attacker on
 * 127.0.0.9 learns the call's RTP port (the test hands it over, stronger than guessing the now random port)
 * and sprays well-formed RTP — one SSRC, consecutive sequence numbers, so it would pass probation — from
 * before the caller's first packet until the end of the call. The victim (sipp signalling + a plain RTP
 * socket on 127.0.0.12, the INVITE's source) must still be latched and hear its speech echoed, and the
 * attacker must receive nothing. Ports: sipp 127.0.0.12:47340; victim RTP 48340; attacker any.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPcm16Wav } from '../support/baresip.js';
import { describeSipp, runSipp } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { muLawEncode } from '../support/g711-reference.js';
import { VictimRtp, speechFrames } from '../support/victim-rtp.js';

const VICTIM_IP = '127.0.0.12';
const ATTACKER_IP = '127.0.0.9';
const VICTIM_SCENARIO = fileURLToPath(new URL('./sip-victim-call.xml', import.meta.url));
const SPEECH = readPcm16Wav(
  readFileSync(fileURLToPath(new URL('../fixtures/audio/caller-billing-question.wav', import.meta.url))),
);

/** A loud 1 kHz tone as PCMU: what the attacker would make the agent hear. */
function tonePayload(): Buffer {
  const p = Buffer.alloc(160);
  for (let i = 0; i < 160; i++)
    p[i] = muLawEncode(Math.round(12_000 * Math.sin((2 * Math.PI * 1000 * i) / 8000)));
  return p;
}

describe('RTP: an attacker spraying the call port before the caller cannot take the call', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: { 'demo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo }\n' },
      logLevel: 'warn',
    });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it(
    'the caller is latched and hears its echo; the attacker receives nothing',
    { timeout: 60_000 },
    async () => {
      const victimRtp = await VictimRtp.bind(VICTIM_IP, 48340);
      const attacker = dgram.createSocket('udp4');
      await new Promise<void>((r) => attacker.bind(0, ATTACKER_IP, () => r()));
      let attackerReceived = 0;
      let attackerSent = 0;
      attacker.on('message', () => attackerReceived++);
      let spraying = true;
      try {
        const call = runSipp({
          scenario: VICTIM_SCENARIO,
          target: `127.0.0.1:${srv.sipPort}`,
          localIp: VICTIM_IP,
          localPort: 47340,
          service: '100',
          durationMs: 9000,
          vars: { rtp_port: '48340' },
          timeoutMs: 30_000,
        });
        let port: number | undefined;
        for (let i = 0; i < 200 && port === undefined; i++) {
          port = srv.server.calls.liveCalls().find((c) => c.from === 'victim')?.media.localPort;
          if (port === undefined) await new Promise((r) => setTimeout(r, 25));
        }
        expect(port, 'the victim call was never established').toBeDefined();
        // The attacker starts at once, 20 ms packets of one stream, and keeps going (bounded: 8 s).
        const tone = tonePayload();
        const spray = (async () => {
          for (let seq = 0; spraying && seq < 400; seq++) {
            const packet = Buffer.alloc(12 + 160);
            packet[0] = 0x80;
            packet.writeUInt16BE(seq, 2);
            packet.writeUInt32BE(seq * 160, 4);
            packet.writeUInt32BE(0xbad0bad0, 8);
            tone.copy(packet, 12);
            attacker.send(packet, port, '127.0.0.1');
            attackerSent++;
            await new Promise((r) => setTimeout(r, 20));
          }
        })();
        await new Promise((r) => setTimeout(r, 300)); // the attacker is first by 15 packets
        await victimRtp.play({ address: '127.0.0.1', port: port! }, SPEECH.samples, 2500);
        spraying = false;
        await spray;
        const result = await call;
        expect(result.exitCode, describeSipp(result)).toBe(0);
        const sentSpeech = speechFrames(SPEECH.samples);
        console.info(
          `[rtp-hijack] attacker sent ${attackerSent} packets first and throughout, received ${attackerReceived}; ` +
            `victim heard ${victimRtp.speechFrames} speech frames of ${sentSpeech} sent (${victimRtp.received} packets)`,
        );
        expect(attackerReceived).toBe(0);
        expect(victimRtp.speechFrames).toBeGreaterThan(sentSpeech * 0.8);
      } finally {
        spraying = false;
        attacker.close();
        victimRtp.close();
      }
    },
  );
});
