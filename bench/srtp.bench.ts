/**
 * SRTP protect/unprotect per 160-byte PCMU packet (20 ms at 8 kHz, 12-byte header) for each suite, and the
 * same for a small SRTCP receiver report. Every unprotect is of a fresh packet (sequence numbers advance),
 * so the replay window and ROC bookkeeping are on the measured path.
 */
import { randomBytes } from 'node:crypto';
import { SrtpSession } from '../src/media/rtp/srtp/session.js';
import { SRTP_SUITES, SRTP_SUITE_PREFERENCE } from '../src/media/rtp/srtp/suites.js';
import { fmt, nsPerOp } from './util.js';

export async function run(print: (line: string) => void): Promise<void> {
  await Promise.resolve();
  const iterations = 100_000;
  print(`SRTP, 160-byte PCMU payload (172-byte RTP packet), ${iterations} packets per figure:`);
  for (const suite of SRTP_SUITE_PREFERENCE) {
    const a = { key: randomBytes(16), salt: randomBytes(SRTP_SUITES[suite].saltBytes) };
    const b = { key: randomBytes(16), salt: randomBytes(SRTP_SUITES[suite].saltBytes) };
    const tx = new SrtpSession({ suite, local: a, remote: b });
    const rx = new SrtpSession({ suite, local: b, remote: a });
    const total = iterations + 1000;
    // Protected packets prepared by the timed protect loop are reused as the unprotect input.
    const wire = Array.from({ length: total }, () => Buffer.alloc(12 + 160 + 16));
    const lengths = new Int32Array(total);
    let seq = 0;
    const protectNs = nsPerOp(
      () => {
        const buf = wire[seq]!;
        buf[0] = 0x80;
        buf.writeUInt16BE(seq & 0xffff, 2);
        buf.writeUInt32BE((seq * 160) >>> 0, 4);
        buf.writeUInt32BE(0x5eed, 8);
        buf.fill(0xff, 12, 172);
        lengths[seq] = tx.protectRtp(buf, 172);
        seq++;
      },
      iterations,
      1000,
    );
    let next = 0;
    let bad = 0;
    const unprotectNs = nsPerOp(
      () => {
        if (rx.unprotectRtp(wire[next]!, lengths[next]!) !== 172) bad++;
        next++;
      },
      iterations,
      1000,
    );
    const rtcpCount = 20_000;
    const template = Buffer.from('81c9000100005eed', 'hex');
    const rtcpWire = Array.from({ length: rtcpCount + 200 }, () => Buffer.alloc(64));
    const rtcpLengths = new Int32Array(rtcpCount + 200);
    let r = 0;
    const rtcpProtectNs = nsPerOp(
      () => {
        template.copy(rtcpWire[r]!);
        rtcpLengths[r] = tx.protectRtcp(rtcpWire[r]!, 8);
        r++;
      },
      rtcpCount,
      200,
    );
    let u = 0;
    const rtcpUnprotectNs = nsPerOp(
      () => {
        if (rx.unprotectRtcp(rtcpWire[u]!, rtcpLengths[u]!) !== 8) bad++;
        u++;
      },
      rtcpCount,
      200,
    );
    print(
      `  ${suite.padEnd(26)} protect ${fmt(protectNs, 0).padStart(6)} ns/packet  unprotect ${fmt(unprotectNs, 0).padStart(6)} ns/packet${bad > 0 ? `  (${bad} FAILED)` : ''}`,
    );
    print(
      `  ${''.padEnd(26)} SRTCP RR protect ${fmt(rtcpProtectNs, 0).padStart(6)} ns  unprotect ${fmt(rtcpUnprotectNs, 0).padStart(6)} ns`,
    );
  }
}
