/**
 * RTCP (RFC 3550) with a real peer that sends it: baresip calls the production server (echo agent). The
 * server parses baresip's SR/RR (its reports reach the call summary: packets counted, RTT measured from
 * LSR/DLSR), and baresip's rtcpsummary module shows it got ours (its RTT and the jitter the server reported
 * on baresip's stream can only come from our receiver reports). Once on RTP port + 1, once multiplexed on the
 * RTP port (baresip `rtcp_mux yes`, RFC 5761).
 *
 * Ports (this file's block): baresip SIP 127.0.0.162:56300 / 127.0.0.163:56320, ctrl +1, RTP +10…+49.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile, writeWavFile } from '../../src/media/wav.js';
import { parseRtcpSummary, runBaresip } from '../support/baresip.js';
import { eventually } from '../support/eventually.js';
import { callEndedRtp } from '../support/rtcp-reference.js';
import { startTestServer } from '../support/server.js';

const ECHO = { 'echo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo }\n' };
const SOURCE_WAV = fileURLToPath(new URL('../fixtures/audio/caller-billing-question.wav', import.meta.url));

describe('RTCP with baresip (it sends and reads RTCP)', () => {
  let dir: string;
  let source: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-rtcp-baresip-'));
    // The speech, then 9 s of silence while the echo plays it back (baresip hangs up when the file ends):
    // the server sends RTP, hence SRs, from the echo on, and baresip's reports then carry LSR/DLSR.
    const speech = readWavFile(SOURCE_WAV);
    const samples = new Int16Array(speech.samples.length + speech.sampleRateHz * 9);
    samples.set(speech.samples);
    source = join(dir, 'speech-then-silence.wav');
    writeWavFile(source, { ...speech, samples });
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(o: { sipHost: string; sipPort: number; rtcpMux: boolean }) {
    const srv = await startTestServer({
      dialplans: ECHO,
      logLevel: 'info',
      env: { RTCP_INTERVAL_MS: '2000' },
    });
    try {
      const running = runBaresip(
        {
          sipHost: o.sipHost,
          sipPort: o.sipPort,
          ctrlPort: o.sipPort + 1,
          sourceWav: source,
          codecs: ['PCMU'],
          rtpPorts: [o.sipPort + 10, o.sipPort + 49],
          rtcpMux: o.rtcpMux,
          modules: ['rtcpsummary.so'],
        },
        [`/dial sip:agent@127.0.0.1:${srv.sipPort}`],
        24,
      );
      // While the call is up, GET /v1/calls/:id carries the live RTCP figures once baresip reported.
      let live: Record<string, any> | undefined;
      try {
        await eventually(async () => {
          const list = await srv.api('GET', '/v1/calls');
          const id = (list.json.calls as { id: string }[])[0]?.id;
          expect(id).toBeDefined();
          const one = await srv.api('GET', `/v1/calls/${id}`);
          expect(one.json.quality?.reportsReceived).toBeGreaterThanOrEqual(1);
          live = one.json.quality;
        }, 20_000);
      } finally {
        await running;
      }
      const run = await running;
      const log = `${run.stdout}\n${run.stderr}`.slice(-6000);
      await eventually(() => expect(callEndedRtp(srv.logs), log).toBeDefined(), 10_000);
      await eventually(() => expect(srv.server.rtpPorts.inUse).toBe(0), 5000);
      return {
        log,
        live,
        summary: callEndedRtp(srv.logs)!,
        baresip: parseRtcpSummary(run.stdout + run.stderr),
      };
    } finally {
      await srv.close();
    }
  }

  function expectReportsBothWays(r: Awaited<ReturnType<typeof call>>, mux: boolean): void {
    const { log, summary, live } = r;
    // The live view (GET /v1/calls/:id) had the same kind of figures while the call was up.
    expect(live, log).toMatchObject({ lossFraction: 0, reportsReceived: expect.any(Number) });
    expect(live!.mos, log).toBeGreaterThan(3.5);
    const rtcp = summary.rtcp;
    expect(rtcp, log).toBeDefined();
    expect(rtcp.mux, log).toBe(mux);
    // baresip's compounds parsed (RFC 3550 §A.2 checks), none refused, none from elsewhere.
    expect(rtcp.reportsReceived, log).toBeGreaterThanOrEqual(2);
    expect(rtcp.malformed, log).toBe(0);
    expect(rtcp.foreignDropped, log).toBe(0);
    // Its SR says how much it sent; its report blocks on our stream arrived, with LSR/DLSR → RTT.
    expect(rtcp.remote.packetsSent, log).toBeGreaterThan(100);
    expect(rtcp.remote.reports, log).toBeGreaterThanOrEqual(1);
    expect(rtcp.remote.cumulativeLost, log).toBe(0);
    expect(rtcp.rtt?.samples, log).toBeGreaterThanOrEqual(1);
    // Loopback: well under 100 ms even on a loaded machine (the DLSR takes our report delay out).
    expect(rtcp.rtt.lastMs, log).toBeGreaterThanOrEqual(0);
    expect(rtcp.rtt.maxMs, log).toBeLessThan(100);
    expect(rtcp.inbound.packetsExpected, log).toBeGreaterThan(300);
    expect(rtcp.inbound.lossFraction, log).toBe(0);
    // No loss; the delay is RTT/2 + ptime + the jitter buffer's target (≥ 40 ms): a MOS near 4.4 when
    // idle, lower only if a loaded machine made the buffer grow.
    expect(rtcp.mos, log).toBeGreaterThan(3.5);
    // baresip's side: it counted our RTP, and it read our receiver reports — the jitter we reported on
    // its stream (timestamp units) and an RTT it can only compute from our LSR/DLSR.
    const b = r.baresip;
    expect(b, `no rtcpsummary line\n${log}`).toBeDefined();
    expect(b!.received, log).toBeGreaterThan(100);
    expect(b!.sent, log).toBeGreaterThan(300);
    expect(b!.lostTx, log).toBe(0);
    expect(b!.jitterTx, log).toBeGreaterThan(0);
    expect(b!.rttMs, log).toBeGreaterThan(0);
    expect(b!.rttMs, log).toBeLessThan(100);
  }

  it('RTCP on port + 1: each side parses the other’s reports (counts, RTT)', async () => {
    const r = await call({ sipHost: '127.0.0.162', sipPort: 56300, rtcpMux: false });
    expectReportsBothWays(r, false);
  }, 60_000);

  it('rtcp-mux offered by baresip: answered, and RTCP flows on the RTP port both ways', async () => {
    const r = await call({ sipHost: '127.0.0.163', sipPort: 56360, rtcpMux: true });
    expectReportsBothWays(r, true);
  }, 60_000);
});
