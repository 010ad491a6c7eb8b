import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  digitToEvent,
  eventToDigit,
  scheduleTelephoneEvents,
  telephoneEventPackets,
  TelephoneEventReceiver,
  writeTelephoneEvent,
  type DtmfDigitEvent,
} from '../../../src/media/rtp/dtmf.js';
import { createRtpPacket, parseRtp } from '../../../src/media/rtp/packet.js';
import { readPcapUdp } from '../../support/pcap.js';

function receiver() {
  const digits: DtmfDigitEvent[] = [];
  const starts: string[] = [];
  const rx = new TelephoneEventReceiver({
    onDigit: (d) => digits.push(d),
    onDigitStart: (d) => starts.push(d),
  });
  const feed = (
    event: number,
    end: boolean,
    durationSamples: number,
    timestamp: number,
    marker = false,
  ): void => {
    const buf = Buffer.alloc(4);
    writeTelephoneEvent(buf, 0, event, end, 10, durationSamples);
    rx.receive(buf, 0, 4, timestamp, marker);
  };
  return { rx, digits, starts, feed };
}

describe('event codes', () => {
  it('maps 0–15 to digits and back', () => {
    expect([...Array(16).keys()].map(eventToDigit).join('')).toBe('0123456789*#ABCD');
    expect(eventToDigit(16)).toBeUndefined();
    expect(digitToEvent('#')).toBe(11);
    expect(digitToEvent('d')).toBe(15);
    expect(digitToEvent('x')).toBeUndefined();
  });
});

describe('TelephoneEventReceiver', () => {
  it('reports one digit per event despite updates and three end packets', () => {
    const { digits, starts, feed } = receiver();
    feed(5, false, 0, 1000, true);
    feed(5, false, 400, 1000);
    feed(5, false, 800, 1000);
    feed(5, true, 960, 1000);
    feed(5, true, 960, 1000);
    feed(5, true, 960, 1000);
    expect(starts).toEqual(['5']);
    expect(digits).toHaveLength(1);
    expect(digits[0]).toMatchObject({
      digit: '5',
      durationMs: 120,
      volume: 10,
      timestamp: 1000,
      endReceived: true,
    });
  });

  it('detects a repeated digit by its new timestamp, even without the marker', () => {
    const { digits, feed } = receiver();
    feed(1, true, 800, 1000, true);
    feed(1, true, 800, 1000);
    feed(1, true, 800, 5000); // marker packet lost
    expect(digits.map((d) => d.digit)).toEqual(['1', '1']);
  });

  it('reports an event whose end packets were all lost when the next one starts, or on flush', () => {
    const { rx, digits, feed } = receiver();
    feed(2, false, 0, 1000, true);
    feed(2, false, 400, 1000);
    feed(3, false, 0, 3000, true);
    expect(digits).toEqual([expect.objectContaining({ digit: '2', durationMs: 50, endReceived: false })]);
    rx.flush();
    expect(digits[1]).toMatchObject({ digit: '3', endReceived: false });
    rx.flush();
    expect(digits).toHaveLength(2);
  });

  it('ignores stragglers of an earlier event and reordered updates do not shrink the duration', () => {
    const { rx, digits, feed } = receiver();
    feed(4, false, 0, 2000, true);
    feed(4, false, 800, 2000);
    feed(4, false, 400, 2000); // reordered update
    feed(4, true, 1200, 2000);
    feed(9, true, 800, 1000); // older timestamp
    expect(digits).toHaveLength(1);
    expect(digits[0]!.durationMs).toBe(150);
    expect(rx.counters.ignored).toBe(1);
  });

  it('joins the segments of a long event (RFC 4733 §2.5.1.3)', () => {
    const { digits, feed } = receiver();
    feed(0, false, 0, 10_000, true);
    feed(0, false, 0xffff, 10_000);
    feed(0, false, 1000, 10_000 + 0xffff); // next segment, no marker
    feed(0, true, 2000, 10_000 + 0xffff);
    expect(digits).toHaveLength(1);
    expect(digits[0]!.durationMs).toBeCloseTo(((0xffff + 2000) * 1000) / 8000);
    expect(digits[0]!.timestamp).toBe(10_000);
  });

  it('counts malformed payloads and unknown events without throwing', () => {
    const { rx, digits, feed } = receiver();
    rx.receive(Buffer.from([1, 2]), 0, 2, 0, true);
    rx.receive(Buffer.from([1, 2, 3, 4]), 2, 4, 0, true); // past the end
    feed(16, true, 800, 100, true); // flash
    expect(rx.counters.malformed).toBe(2);
    expect(rx.counters.unknownEvents).toBe(1);
    expect(digits).toHaveLength(0);
  });
});

describe('telephoneEventPackets', () => {
  it('produces marker, growing updates at one timestamp, and three end packets', () => {
    const pkts = [...telephoneEventPackets('7', { durationMs: 120, packetIntervalMs: 50 })];
    expect(pkts.map((p) => [p.marker, p.end, p.durationSamples, p.sendAtMs])).toEqual([
      [true, false, 0, 0],
      [false, false, 400, 50],
      [false, false, 800, 100],
      [false, true, 960, 150],
      [false, true, 960, 200],
      [false, true, 960, 250],
    ]);
    expect(pkts[0]!.payload).toEqual(Buffer.from([7, 10, 0, 0]));
    expect(pkts[3]!.payload).toEqual(Buffer.from([7, 0x80 | 10, 0x03, 0xc0]));
  });

  it('honours volume, clock rate and rejects bad input', () => {
    const pkts = [
      ...telephoneEventPackets('#', { durationMs: 40, clockRateHz: 16000, volume: 20, packetIntervalMs: 20 }),
    ];
    expect(pkts.at(-1)!.durationSamples).toBe(640);
    expect((pkts[0]!.payload[1] ?? 0) & 0x3f).toBe(20);
    expect(() => [...telephoneEventPackets('x')]).toThrow(RangeError);
    expect(() => [...telephoneEventPackets('1', { durationMs: 10_000 })]).toThrow(RangeError);
  });

  it('decodes back through the receiver for every digit', () => {
    const got: DtmfDigitEvent[] = [];
    const rx = new TelephoneEventReceiver({ onDigit: (d) => got.push(d) });
    let ts = 0;
    for (const digit of '0123456789*#ABCD') {
      for (const p of telephoneEventPackets(digit, { durationMs: 160 }))
        rx.receive(p.payload, 0, 4, ts, p.marker);
      ts += 8000;
    }
    expect(got.map((d) => d.digit).join('')).toBe('0123456789*#ABCD');
    expect(got.every((d) => d.durationMs === 160 && d.endReceived)).toBe(true);
  });
});

describe('scheduleTelephoneEvents (RFC 4733 out at the negotiated clock and ptime)', () => {
  for (const clockRateHz of [8000, 48000]) {
    for (const ptimeMs of [10, 20, 30, 60]) {
      it(`${clockRateHz} Hz, ptime ${ptimeMs} ms: one update per ptime, durations in clock units, 3 end packets`, () => {
        const unitsPerMs = clockRateHz / 1000;
        const { packets, endTick } = scheduleTelephoneEvents('15', {
          clockRateHz,
          ptimeMs,
          tickPeriodMs: ptimeMs,
          durationMs: 160,
          pauseMs: 100,
        });
        const first = packets.filter((p) => p.timestampOffset === 0);
        const second = packets.filter((p) => p.timestampOffset !== 0);
        expect(first.length + second.length).toBe(packets.length);
        for (const digit of [first, second]) {
          const updates = digit.filter((p) => !p.end);
          const ends = digit.filter((p) => p.end);
          // §2.5.1.2: an update every ptime while the tone lasts (160 ms), the first with the marker only.
          expect(updates).toHaveLength(Math.ceil(160 / ptimeMs));
          expect(digit.map((p) => p.marker)).toEqual(digit.map((_, i) => i === 0));
          expect(updates.map((p) => p.durationSamples)).toEqual(
            updates.map((_, i) => i * ptimeMs * unitsPerMs),
          );
          // §2.5.1.4: the end packet three times, E bit set, the final duration in clock units (160 ms).
          expect(ends).toHaveLength(3);
          expect(
            ends.every((p) => p.durationSamples === 160 * unitsPerMs && ((p.payload[1] ?? 0) & 0x80) !== 0),
          ).toBe(true);
          // One tick per ptime on a ptime clock: every packet on the next tick, none sharing one.
          expect(digit.map((p) => p.tick - digit[0]!.tick)).toEqual(digit.map((_, i) => i));
        }
        // The second digit starts (in media time) after the first's last end packet plus the pause.
        const lastEndMs = Math.ceil(160 / ptimeMs) * ptimeMs + 2 * ptimeMs;
        expect(second[0]!.timestampOffset).toBe((lastEndMs + ptimeMs + 100) * unitsPerMs);
        expect(second[0]!.timestampOffset).toBeGreaterThan(160 * unitsPerMs); // after the first event's end
        expect(second[0]!.tick).toBe(Math.round((lastEndMs + ptimeMs + 100) / ptimeMs));
        expect(endTick).toBeGreaterThan(packets.at(-1)!.tick);
      });
    }
  }

  it('on a 20 ms ticker, 10 ms updates share ticks and 30 ms updates land on the nearest tick', () => {
    const ten = scheduleTelephoneEvents('1', {
      clockRateHz: 8000,
      ptimeMs: 10,
      tickPeriodMs: 20,
      durationMs: 40,
    });
    expect(ten.packets.map((p) => p.tick)).toEqual([0, 1, 1, 2, 2, 3, 3]);
    const thirty = scheduleTelephoneEvents('1', {
      clockRateHz: 8000,
      ptimeMs: 30,
      tickPeriodMs: 20,
      durationMs: 90,
    });
    expect(thirty.packets.map((p) => [p.tick, p.durationSamples])).toEqual([
      [0, 0],
      [2, 240],
      [3, 480],
      [5, 720],
      [6, 720],
      [8, 720],
    ]);
    // 48 kHz on a 20 ms ticker: 960 units per 20 ms.
    const opus = scheduleTelephoneEvents('1', {
      clockRateHz: 48000,
      ptimeMs: 20,
      tickPeriodMs: 20,
      durationMs: 60,
    });
    expect(opus.packets.map((p) => p.durationSamples)).toEqual([0, 960, 1920, 2880, 2880, 2880]);
  });

  it('rejects an unknown digit and a non-positive clock', () => {
    expect(() => scheduleTelephoneEvents('x', { clockRateHz: 8000, ptimeMs: 20, tickPeriodMs: 20 })).toThrow(
      RangeError,
    );
    expect(() => scheduleTelephoneEvents('1', { clockRateHz: 0, ptimeMs: 20, tickPeriodMs: 20 })).toThrow(
      RangeError,
    );
  });

  for (const clockRateHz of [8000, 48000]) {
    it(`round-trips through the receiver at ${clockRateHz} Hz for any packet spacing and with losses`, () => {
      for (const ptimeMs of [10, 20, 30, 60]) {
        const got: DtmfDigitEvent[] = [];
        const rx = new TelephoneEventReceiver({ clockRateHz, onDigit: (d) => got.push(d) });
        const { packets } = scheduleTelephoneEvents('9#', { clockRateHz, ptimeMs, tickPeriodMs: 20 });
        packets.forEach((p, i) => {
          if (i === 1 || i === 2) return; // updates lost: the end packets still carry the full duration
          rx.receive(p.payload, 0, 4, (1_000_000 + p.timestampOffset) >>> 0, p.marker);
        });
        expect(
          got.map((d) => [d.digit, d.durationMs, d.endReceived]),
          `ptime ${ptimeMs}`,
        ).toEqual([
          ['9', 160, true],
          ['#', 160, true],
        ]);
        expect(rx.counters.ignored).toBe(4); // two retransmitted end packets per digit
      }
    });
  }
});

describe('sipp RFC 4733 captures', () => {
  const dir = '/usr/share/sip-tester';
  const files: [string, string][] = [
    ...[...'0123456789'].map((d): [string, string] => [`dtmf_2833_${d}.pcap`, d]),
    ['dtmf_2833_pound.pcap', '#'],
    ['dtmf_2833_star.pcap', '*'],
  ];
  it('decodes one digit per capture with its duration', () => {
    // The captures ship with Debian sip-tester (.ci/run installs it); a missing peer fails, never skips.
    expect(existsSync(`${dir}/dtmf_2833_1.pcap`), `${dir}/dtmf_2833_*.pcap missing: install sip-tester`).toBe(
      true,
    );
    const packet = createRtpPacket();
    for (const [file, digit] of files) {
      const got: DtmfDigitEvent[] = [];
      const rx = new TelephoneEventReceiver({ onDigit: (d) => got.push(d) });
      for (const dgram of readPcapUdp(`${dir}/${file}`)) {
        expect(parseRtp(dgram.payload, packet)).toBe(true);
        expect(packet.payloadType).toBe(101);
        rx.receivePacket(packet);
      }
      expect(got, file).toHaveLength(1);
      expect(got[0]).toMatchObject({ digit, durationMs: 280, volume: 10, endReceived: true });
      expect(rx.counters.ignored).toBe(2); // the two retransmitted end packets
    }
  });
});
