/**
 * Issue 11, INVITE flood: an attacker on 127.0.0.66 sends a bounded stream of INVITEs it never ACKs (before
 * the fix: every RTP port taken, everyone answered 503). A victim on 127.0.0.2 — sipp for the signalling, a
 * plain RTP socket for the audio — calls the echo agent during the flood: its call must be answered and it
 * must hear its own speech back, while the attacker is held to its per-source rate and the process to
 * SIP_MAX_CALLS. Audio is judged in media time: 20 ms RTP frames carrying speech.
 * Ports: sipp on 127.0.0.2, 47200–47219; victim RTP 48200–48219.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACKER_IP, UdpAttacker } from '../support/attacker.js';
import { readPcm16Wav } from '../support/baresip.js';
import { VictimRtp, speechFrames } from '../support/victim-rtp.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { describeSipp, runSipp, type SippResult } from '../support/sipp.js';

const VICTIM_IP = '127.0.0.2';
const VICTIM_SCENARIO = fileURLToPath(new URL('./sip-victim-call.xml', import.meta.url));
const SPEECH = readPcm16Wav(
  readFileSync(fileURLToPath(new URL('../fixtures/audio/caller-billing-question.wav', import.meta.url))),
);

const RATE_PER_S = 2;
const BURST = 5;
const MAX_CALLS = 40;

function victimCall(srv: TestServer, localPort: number, durationMs: number): Promise<SippResult> {
  return runSipp({
    scenario: VICTIM_SCENARIO,
    target: `127.0.0.1:${srv.sipPort}`,
    localIp: VICTIM_IP,
    localPort,
    service: '100',
    durationMs,
    vars: { rtp_port: String(localPort + 1000) },
    timeoutMs: durationMs + 15_000,
  });
}

describe('SIP front door: an INVITE flood from one source', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: { 'demo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo }\n' },
      logLevel: 'warn',
      env: {
        SIP_INVITE_RATE: String(RATE_PER_S),
        SIP_INVITE_BURST: String(BURST),
        SIP_MAX_CALLS: String(MAX_CALLS),
      },
    });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it(
    'answers the victim and plays its echo during the flood; the attacker gets 503 + Retry-After',
    {
      timeout: 90_000,
    },
    async () => {
      const attacker = await UdpAttacker.bind(ATTACKER_IP);
      const rtp = await VictimRtp.bind(VICTIM_IP, 48200);
      const rssBefore = process.memoryUsage().rss;
      let maxPortsInUse = 0;
      let flooding = true;
      try {
        // 600 INVITEs at 50/s: the flood lasts ~12 s, around the whole victim call.
        const floodStart = performance.now();
        const flood = attacker.floodInvites({
          count: 600,
          perTick: 5,
          tickMs: 100,
          server: { host: '127.0.0.1', port: srv.sipPort },
          user: (i) => String(1000 + i),
        });
        const watchPorts = (async () => {
          for (let i = 0; i < 400 && flooding; i++) {
            maxPortsInUse = Math.max(maxPortsInUse, srv.server.rtpPorts.inUse);
            await new Promise((r) => setTimeout(r, 50));
          }
        })();
        await new Promise((r) => setTimeout(r, 1000)); // the flood is under way

        const victim = victimCall(srv, 47200, 12_000);
        // Our RTP peer needs the server's RTP port: the victim's call in the live table (bounded wait).
        let serverRtpPort: number | undefined;
        for (let i = 0; i < 200 && serverRtpPort === undefined; i++) {
          serverRtpPort = srv.server.calls.liveCalls().find((c) => c.from === 'victim')?.media.localPort;
          if (serverRtpPort === undefined) await new Promise((r) => setTimeout(r, 50));
        }
        expect(serverRtpPort, 'the victim call was never established').toBeDefined();
        await rtp.play({ address: '127.0.0.1', port: serverRtpPort! }, SPEECH.samples, 6000);
        // A second and third victim call while the attacker is still sending.
        const more = [await victimCall(srv, 47202, 500), await victimCall(srv, 47204, 500)];
        const first = await victim;
        const callIds = await flood;
        const floodS = (performance.now() - floodStart) / 1000;
        flooding = false;
        await watchPorts;
        await attacker.until(() => callIds.every((id) => attacker.final(id) !== undefined), 10_000);

        const answered = [first, ...more].filter((r) => r.exitCode === 0).length;
        expect(first.exitCode, describeSipp(first)).toBe(0);
        for (const r of more) expect(r.exitCode, describeSipp(r)).toBe(0);
        // The victim heard its own speech back: at least half of the speech frames it sent.
        const sentSpeech = speechFrames(SPEECH.samples);
        expect(rtp.speechFrames).toBeGreaterThan(sentSpeech * 0.5);

        const tally = attacker.tally(callIds);
        const admitted = tally.get(200) ?? 0;
        const refused = tally.get(503) ?? 0;
        // Burst plus the refill over however long the flood took (+1 s for the last INVITEs in flight); the
        // bound is the attacker's own rate, not a speed: before the fix all 600 were answered.
        const allowed = BURST + Math.ceil(floodS + 1) * RATE_PER_S;
        expect(admitted).toBeLessThanOrEqual(allowed);
        expect(refused).toBeGreaterThanOrEqual(600 - allowed);
        const sample503 = callIds.map((id) => attacker.final(id)).find((r) => r?.status === 503);
        expect(Number(sample503?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        // Ports: two per call at most (RTP + its RTCP neighbour is not leased: one each), never the pool.
        expect(maxPortsInUse).toBeLessThanOrEqual(MAX_CALLS);
        console.info(
          `[sip-flood] attacker ${callIds.length} INVITEs in ${floodS.toFixed(1)} s: ${admitted} answered, ${refused} refused 503; ` +
            `victim calls answered during the flood: ${answered}/3; victim heard ${rtp.speechFrames} speech frames ` +
            `(sent ${sentSpeech}, received ${rtp.received} RTP packets); RTP ports in use ≤ ${maxPortsInUse}; ` +
            `RSS +${Math.round((process.memoryUsage().rss - rssBefore) / 1048576)} MiB`,
        );
      } finally {
        flooding = false;
        attacker.close();
        rtp.close();
      }
    },
  );
});
