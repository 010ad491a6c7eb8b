/**
 * RTCP (RFC 3550) towards a peer that sends none: sipp plays caller audio from a pcap and sends no RTCP.
 * The server must still report on port + 1 (§11) — SR while it sends RTP, RR otherwise, CNAME in every
 * compound, a BYE at the end — and the call must work as before. With 10 % of the caller's packets
 * removed from the pcap (the raw RTP peer of test/support/rtp-peer.ts), the server's receiver reports and
 * its call summary say so.
 *
 * The test owns the sockets the SDP names ([media_port+10] for RTP, +11 for RTCP: sipp does not bind them)
 * and decodes what arrives with an independent reader (test/support/rtcp-reference.ts).
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile } from '../../src/media/wav.js';
import { eventually } from '../support/eventually.js';
import { writePcapUdp } from '../support/pcap.js';
import { callEndedRtp, RtcpCapture } from '../support/rtcp-reference.js';
import { RtpCapture, pcapCallerScenario, pcmaRtpDatagrams } from '../support/rtp-peer.js';
import { describeSipp, runSipp } from '../support/sipp.js';
import { startTestServer } from '../support/server.js';

const ECHO = { 'echo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo }\n' };
const fixture = fileURLToPath(new URL('../fixtures/audio/caller-billing-question.wav', import.meta.url));
const SIPP_SSRC = 0x1234_5678;
const INTERVAL_MS = 2000;

/** `seconds` of caller audio: the fixture's speech, then silence. */
function callerAudio(seconds: number): Int16Array {
  const out = new Int16Array(8000 * seconds);
  const speech = readWavFile(fixture).samples;
  out.set(speech.subarray(0, Math.min(speech.length, out.length)));
  return out;
}

describe('RTCP with sipp (no RTCP from the peer)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-rtcp-sipp-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function call(o: {
    ip: string;
    portBase: number;
    name: string;
    dropEvery?: number;
    seconds: number;
  }) {
    const srv = await startTestServer({
      dialplans: ECHO,
      logLevel: 'info',
      env: { RTCP_INTERVAL_MS: String(INTERVAL_MS) },
    });
    const mediaPort = o.portBase + 20 * randomInt(0, 10);
    const rtp = await RtpCapture.open(o.ip, mediaPort + 10);
    const rtcp = await RtcpCapture.open(o.ip, mediaPort + 11);
    try {
      let scenario = await pcapCallerScenario(dir, o.name, {
        speech: callerAudio(o.seconds),
        packetMs: 20,
        ptimeMs: 20,
        callMs: o.seconds * 1000 + 1500,
      });
      if (o.dropEvery !== undefined) {
        // The same scenario, its pcap rewritten without every dropEvery-th packet (k % n === 3).
        const kept = pcmaRtpDatagrams(callerAudio(o.seconds), 20, SIPP_SSRC).filter(
          (_, k) => k % o.dropEvery! !== 3,
        );
        writePcapUdp(join(dir, `${o.name}.pcap`), kept);
        scenario = join(dir, `${o.name}.xml`);
      }
      const r = await runSipp({
        scenario,
        target: `127.0.0.1:${srv.sipPort}`,
        localIp: o.ip,
        localPort: o.portBase + 500 + randomInt(0, 100),
        mediaIp: o.ip,
        mediaPort,
        service: '100',
        timeoutMs: 40_000,
      });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      await eventually(() => expect(callEndedRtp(srv.logs)).toBeDefined(), 10_000);
      // The BYE compound leaves as the call ends; give it a moment to arrive.
      await eventually(() => expect(rtcp.compounds.some((c) => c.bye)).toBe(true), 5000);
      await eventually(() => expect(srv.server.rtpPorts.inUse).toBe(0), 5000);
      return { rtp, rtcp, summary: callEndedRtp(srv.logs)! };
    } finally {
      await rtp.close();
      await rtcp.close();
      await srv.close();
    }
  }

  it('sends SR/RR + SDES CNAME to port + 1 of the SDP address, a BYE at the end; the call works', async () => {
    const { rtp, rtcp, summary } = await call({
      ip: '127.0.0.160',
      portBase: 56000,
      name: 'rtcp-plain',
      seconds: 7,
    });
    expect(rtcp.errors).toEqual([]);
    const compounds = rtcp.compounds;
    // 8.5 s of call at a 2 s mean interval (first after ~1 s): at least 3 reports plus the BYE compound.
    expect(compounds.length).toBeGreaterThanOrEqual(3);
    const serverRtpPort = rtp.packets[0]?.from.port;
    expect(serverRtpPort).toBeDefined();
    const ourSsrc = rtp.packets[0]!.ssrc;
    for (const c of compounds) {
      // RFC 3550 §6.1: SR or RR first, SDES with a CNAME next; from the server's RTP port + 1 (§11).
      expect([200, 201]).toContain(c.types[0]);
      expect(c.types[1]).toBe(202);
      expect(c.cname).toMatch(/.+/);
      expect(c.cname).toBe(compounds[0]!.cname);
      expect(c.ssrc).toBe(ourSsrc);
      expect(c.from).toEqual({ address: '127.0.0.1', port: serverRtpPort! + 1 });
    }
    expect(compounds.at(-1)!.types).toEqual([compounds.at(-1)!.types[0], 202, 203]);
    // SR once we send RTP: its packet/octet counts match what the RTP socket received by then (±3 packets
    // in flight either way on a loaded machine).
    const srs = compounds.filter((c) => c.sr !== undefined);
    expect(srs.length).toBeGreaterThanOrEqual(1);
    for (const c of srs) {
      const seen = rtp.packets.filter((p) => p.arrivalMs <= c.arrivalMs);
      expect(Math.abs(c.sr!.packets - seen.length)).toBeLessThanOrEqual(3);
      const octets = seen.reduce((n, p) => n + p.payload.length, 0);
      expect(Math.abs(c.sr!.octets - octets)).toBeLessThanOrEqual(3 * 160);
    }
    // Report intervals in media time (the SRs' RTP timestamps, 8 kHz): randomised 0.5–1.5 × 2 s; +1 s of
    // tolerance for a late timer on a loaded machine.
    for (let i = 1; i < srs.length; i++) {
      const dtMs = (((srs[i]!.sr!.rtpTs - srs[i - 1]!.sr!.rtpTs) >>> 0) / 8000) * 1000;
      if (srs[i]!.bye) continue; // the BYE compound is sent at hangup, not on the timer
      expect(dtMs).toBeGreaterThanOrEqual(0.5 * INTERVAL_MS - 40);
      expect(dtMs).toBeLessThanOrEqual(1.5 * INTERVAL_MS + 1000);
    }
    // Receiver reports on sipp's stream: no loss, and the highest sequence number sipp had sent by then.
    const blocks = compounds.flatMap((c) => c.blocks);
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const b of blocks) {
      expect(b.ssrc).toBe(SIPP_SSRC);
      expect(b.lost).toBe(0);
      expect(b.fraction).toBe(0);
      expect(b.lsr).toBe(0); // sipp sent no SR
    }
    // The pcap's last sequence number is 1000 + 350 − 1.
    expect(blocks.at(-1)!.highest).toBe(1000 + 7 * 50 - 1);
    // The call summary: what was sent, nothing received, no loss; a clean-call MOS.
    expect(summary.rtcp).toMatchObject({ mux: false, reportsReceived: 0, malformed: 0, byeReceived: false });
    expect(summary.rtcp.reportsSent).toBe(compounds.length - 1); // the BYE leaves after the summary
    expect(summary.rtcp.inbound.lossFraction).toBe(0);
    expect(summary.rtcp.inbound.packetsExpected).toBeGreaterThan(300);
    expect(summary.rtcp.rtt).toBeUndefined();
    expect(summary.rtcp.mos).toBeGreaterThan(3.5); // no loss: only the jitter buffer delay lowers it
  }, 60_000);

  it('10 % of the caller packets missing: receiver reports and the summary say ≈ 10 % loss', async () => {
    const { rtcp, summary } = await call({
      ip: '127.0.0.161',
      portBase: 56200,
      name: 'rtcp-loss',
      dropEvery: 10,
      seconds: 8,
    });
    expect(rtcp.errors).toEqual([]);
    // 400 packets, every 10th (k % 10 === 3) removed: 40 lost of the 398 expected from the latched packet
    // on (the first 2 go to probation) → 10.05 %. Tolerance ±1.5 points: loopback may drop a packet on a
    // loaded machine.
    expect(summary.rtcp.inbound.lossFraction).toBeGreaterThan(0.085);
    expect(summary.rtcp.inbound.lossFraction).toBeLessThan(0.115);
    expect(summary.lost).toBeGreaterThanOrEqual(38);
    const blocks = rtcp.compounds.flatMap((c) => c.blocks);
    const last = blocks.at(-1)!;
    expect(last.lost).toBeGreaterThanOrEqual(38);
    expect(last.lost).toBeLessThanOrEqual(44);
    // Interval fractions (§6.4.1, 8-bit fixed point): each must be floor(256 · lost / expected) of the
    // interval since the block before (its figures from the two blocks' cumulative counts), and intervals
    // of at least 50 packets (1 s of the 2 s ± 50 % timer) lose 10 % ± 2 points.
    let checked = 0;
    for (let i = 1; i < blocks.length; i++) {
      const expected = blocks[i]!.highest - blocks[i - 1]!.highest;
      const lost = blocks[i]!.lost - blocks[i - 1]!.lost;
      if (expected <= 0) continue;
      expect(blocks[i]!.fraction).toBe(lost <= 0 ? 0 : Math.floor((256 * lost) / expected));
      if (expected < 50) continue;
      checked++;
      expect(lost / expected).toBeGreaterThanOrEqual(0.08);
      expect(lost / expected).toBeLessThanOrEqual(0.12);
    }
    expect(checked).toBeGreaterThanOrEqual(2);
    // The E-model with ~10 % random loss (G.711, Bpl 4.3): R ≈ 26, MOS < 2.
    expect(summary.rtcp.mos).toBeLessThan(2);
  }, 60_000);
});
