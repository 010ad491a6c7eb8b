/**
 * Issue 11, a hostile provider: an operator-configured endpoint (admin-written ws:// url on loopback) that
 * answers the session setup and then sends a 60 MB frame (before the fix: ws accepted up to 100 MiB, 4 such
 * frames raised RSS by 636 MB and another tenant's call lost ~30 % of its audio). Two attacker-tenant calls
 * from 127.0.0.4 meet it while a victim on 127.0.0.3 — sipp for signalling, a plain RTP socket for audio —
 * talks to the echo agent of another tenant. The attacker's agent must fail (fatal AGENT_PROTOCOL), the
 * process RSS stay bounded, and the victim hear its own speech back (counted in 20 ms RTP frames).
 * Ports: sipp 127.0.0.3:47320, 127.0.0.4:47330–47331; victim RTP 48320.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPcm16Wav } from '../support/baresip.js';
import { HostileProvider } from '../support/hostile-provider.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { describeSipp, runSipp, type SippResult } from '../support/sipp.js';
import { VictimRtp, speechFrames } from '../support/victim-rtp.js';

const VICTIM_IP = '127.0.0.3';
const ATTACKER_IP = '127.0.0.4';
const FRAME_BYTES = 60_000_000;
const SCENARIO = fileURLToPath(new URL('./sip-victim-call.xml', import.meta.url));
const SPEECH = readPcm16Wav(
  readFileSync(fileURLToPath(new URL('../fixtures/audio/caller-billing-question.wav', import.meta.url))),
);

function call(
  srv: TestServer,
  ip: string,
  port: number,
  service: string,
  durationMs: number,
): Promise<SippResult> {
  return runSipp({
    scenario: SCENARIO,
    target: `127.0.0.1:${srv.sipPort}`,
    localIp: ip,
    localPort: port,
    service,
    durationMs,
    vars: { rtp_port: String(port + 1000) },
    timeoutMs: durationMs + 15_000,
  });
}

async function metricSum(srv: TestServer, name: string, label: string): Promise<number> {
  const res = await fetch(`${srv.baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${srv.adminToken}` },
  });
  let sum = 0;
  for (const line of (await res.text()).split('\n')) {
    if (line.startsWith(name) && line.includes(label)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

describe('a hostile provider affects only its own call', () => {
  let srv: TestServer;
  const hostile = new HostileProvider(FRAME_BYTES);
  beforeAll(async () => {
    await hostile.listen();
    srv = await startTestServer({
      dialplans: {
        'victim.yaml': 'tenant: victim\nnumbers: ["100"]\nagent: { provider: echo }\n',
        'attacker.yaml': 'tenant: attacker\nnumbers: ["200"]\nagent: { provider: openai }\n',
      },
      // Written as the admin would: operators may point a provider anywhere, tenants may not.
      credentials: [
        { tenant: 'attacker', provider: 'openai', fields: { apiKey: 'sk-attacker-0000', url: hostile.url } },
      ],
      logLevel: 'warn',
    });
  });
  afterAll(async () => {
    await srv?.close();
    await hostile.close();
  });

  it(
    'fails the attacker agent on a 60 MB frame; RSS stays bounded; the victim keeps its audio',
    { timeout: 90_000 },
    async () => {
      const rtp = await VictimRtp.bind(VICTIM_IP, 48320);
      const rssBefore = process.memoryUsage().rss;
      let rssMax = rssBefore;
      let sampling = true;
      const sampler = (async () => {
        for (let i = 0; i < 1200 && sampling; i++) {
          rssMax = Math.max(rssMax, process.memoryUsage().rss);
          await new Promise((r) => setTimeout(r, 25));
        }
      })();
      try {
        const victim = call(srv, VICTIM_IP, 47320, '100', 12_000);
        let serverRtpPort: number | undefined;
        for (let i = 0; i < 200 && serverRtpPort === undefined; i++) {
          serverRtpPort = srv.server.calls.liveCalls().find((c) => c.tenant === 'victim')?.media.localPort;
          if (serverRtpPort === undefined) await new Promise((r) => setTimeout(r, 50));
        }
        expect(serverRtpPort, 'the victim call was never established').toBeDefined();
        const speaking = rtp.play({ address: '127.0.0.1', port: serverRtpPort! }, SPEECH.samples, 6000);
        // The attack lands while the victim is speaking and while its echo plays back.
        await new Promise((r) => setTimeout(r, 1000));
        const attackers = [
          call(srv, ATTACKER_IP, 47330, '200', 6000),
          call(srv, ATTACKER_IP, 47331, '200', 6000),
        ];
        await speaking;
        const first = await victim;
        await Promise.all(attackers);
        sampling = false;
        await sampler;

        expect(first.exitCode, describeSipp(first)).toBe(0);
        const sentSpeech = speechFrames(SPEECH.samples);
        const protocolErrors = await metricSum(
          srv,
          'switchboard_agent_errors_total',
          'code="AGENT_PROTOCOL"',
        );
        const rssGrowthMiB = (rssMax - rssBefore) / 1048576;
        console.info(
          `[provider-hostile] ${hostile.stats.framesAnnounced} frames of ${FRAME_BYTES} B announced on ` +
            `${hostile.stats.connections} connections, ${hostile.stats.cutOff} cut off after ` +
            `${Math.round(hostile.stats.bytesWritten / 1024)} KiB in all; AGENT_PROTOCOL errors ${protocolErrors}; ` +
            `RSS peak +${rssGrowthMiB.toFixed(1)} MiB; victim heard ${rtp.speechFrames} speech frames ` +
            `(sent ${sentSpeech}), ${rtp.received} RTP packets`,
        );
        // Each attacker call: the frame, one reconnect (DESIGN.md §4), the frame again, then the fallback.
        expect(hostile.stats.framesAnnounced).toBeGreaterThanOrEqual(2);
        expect(hostile.stats.cutOff).toBe(hostile.stats.framesAnnounced);
        expect(protocolErrors).toBe(hostile.stats.framesAnnounced);
        expect(srv.logs.some((l) => l.includes('provider message over the size cap'))).toBe(true);
        // Far below one frame (60 MB) let alone the 4 of the attack; the RTP/echo/call baseline is a few MiB.
        expect(rssGrowthMiB).toBeLessThan(48);
        // The victim heard its own speech back: at least 80 % of the speech frames it sent.
        expect(rtp.speechFrames).toBeGreaterThan(sentSpeech * 0.8);
      } finally {
        sampling = false;
        rtp.close();
      }
    },
  );
});
