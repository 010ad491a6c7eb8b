/**
 * The server sends RTP from the address it advertises (issue 10; DESIGN.md §3 Media). Before, RTP sockets
 * were bound to SIP_HOST (the wildcard by default): SDP said SIP_PUBLIC_HOST while packets left from whatever
 * the kernel's route picked, and a peer latching to its SDP address dropped them all — the README's first
 * call was silent on any host with a public interface address.
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
import { defaultPublicHost } from '../../src/config/config.js';
import { isLocalAddress, rtpBindAddress } from '../../src/call/media-address.js';
import { Softphone } from '../../src/softphone/softphone.js';
import { eventually } from '../support/eventually.js';
import { RtpCapture, pcapCallerScenario } from '../support/rtp-peer.js';
import { describeSipp, runSipp } from '../support/sipp.js';
import { startTestServer } from '../support/server.js';

const ECHO = { 'echo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo }\n' };
const fixture = fileURLToPath(new URL('../fixtures/audio/caller-billing-question.wav', import.meta.url));

describe('rtpBindAddress', () => {
  const local = new Set(['192.0.2.2', 'fe80::1']);
  it('binds the advertised address when it is one of ours, else keeps SIP_HOST (1:1 NAT)', () => {
    expect(rtpBindAddress('192.0.2.2', '0.0.0.0', local)).toBe('192.0.2.2');
    expect(rtpBindAddress('127.0.0.9', '0.0.0.0', local)).toBe('127.0.0.9');
    expect(rtpBindAddress('203.0.113.7', '0.0.0.0', local)).toBe('0.0.0.0');
    expect(rtpBindAddress('sip.example.com', '10.0.0.1', local)).toBe('10.0.0.1');
    expect(isLocalAddress('::1', local)).toBe(true);
    expect(isLocalAddress('FE80::1', local)).toBe(true);
  });
});

describe('RTP leaves from the advertised address', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-rtpsrc-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('SIP_MEDIA_HOST: SDP c= names it and every RTP packet comes from it (sipp caller)', async () => {
    const mediaHost = '127.0.0.46';
    const srv = await startTestServer({
      dialplans: ECHO,
      logLevel: 'info',
      env: { SIP_MEDIA_HOST: mediaHost },
    });
    const ip = '127.0.0.26';
    const mediaPort = 47000 + 20 * randomInt(0, 50);
    const capture = await RtpCapture.open(ip, mediaPort + 10);
    try {
      const speech = readWavFile(fixture).samples.subarray(0, 2000 * 8);
      const scenario = await pcapCallerScenario(dir, 'uac-media-host', {
        speech,
        packetMs: 20,
        ptimeMs: 20,
        callMs: 6500,
      });
      const r = await runSipp({
        scenario,
        target: `127.0.0.1:${srv.sipPort}`,
        localIp: ip,
        localPort: 15600 + randomInt(0, 100),
        mediaIp: ip,
        mediaPort,
        service: '100',
        timeoutMs: 20_000,
      });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(r.messages).toContain(`c=IN IP4 ${mediaHost}`);
      expect(capture.packets.length).toBeGreaterThan(20);
      expect(new Set(capture.packets.map((p) => p.from.address))).toEqual(new Set([mediaHost]));
      await eventually(() => expect(srv.server.rtpPorts.inUse).toBe(0), 5000);
    } finally {
      await capture.close();
      await srv.close();
    }
  }, 40_000);

  // The README's first call: `npm start` defaults (SIP on the wildcard, SIP_PUBLIC_HOST = the first
  // non-internal IPv4) and the built-in softphone on 127.0.0.1. Runs where such an interface exists; the
  // traffic to our own interface address stays inside this host.
  const publicHost = defaultPublicHost();
  it.runIf(publicHost !== '127.0.0.1' && isLocalAddress(publicHost))(
    `README first call with server defaults (SIP_PUBLIC_HOST=${publicHost}): the softphone hears the echo`,
    async () => {
      const srv = await startTestServer({
        dialplans: ECHO,
        logLevel: 'info',
        env: { SIP_HOST: '0.0.0.0', SIP_PUBLIC_HOST: publicHost },
      });
      const phone = new Softphone({
        logger: pino({ level: 'silent' }),
        rtpPortMin: 44400,
        rtpPortMax: 44599,
      });
      await phone.start();
      try {
        const result = await phone.call(`sip:100@127.0.0.1:${srv.sipPort}`, {
          playPath: fixture,
          durationMs: 11_000,
        });
        expect(result.media.sdpAddress).toBe(publicHost);
        expect(result.media.latchedTo?.address).toBe(publicHost);
        expect(result.media.foreignDropped).toBe(0);
        expect(result.media.hint).toBeUndefined();
        const ms = (t: number): number => Math.round((t * result.sampleRateHz) / 1000);
        expect(rmsDbfs(result.received, ms(5500), ms(9500))).toBeGreaterThan(-35);
        await eventually(() => expect(srv.server.rtpPorts.inUse).toBe(0), 5000);
      } finally {
        await phone.close();
        await srv.close();
      }
    },
    40_000,
  );
});
