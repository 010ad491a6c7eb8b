import { describe, expect, it } from 'vitest';
import { LatchVerdict, RtpLatch, type RtpLatchOptions } from '../../../src/media/rtp/latch.js';

const { Accept, Latched, Probation, Foreign } = LatchVerdict;
const CALLER = '127.0.0.2';
const ATTACKER = '127.0.0.9';

/** A latch with the caller's INVITE from CALLER and a private (NAT) SDP address, as in issue 11. */
function natCall(options: RtpLatchOptions = {}): RtpLatch {
  const l = new RtpLatch(options);
  l.setSignalingAddress(CALLER);
  l.setSdp('10.0.0.7', false, true);
  return l;
}

/** Feeds `n` consecutive packets from one source; returns the verdicts. */
function run(l: RtpLatch, address: string, port: number, ssrc: number, seq0: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(l.check(address, port, ssrc, (seq0 + i) & 0xffff));
  return out;
}

describe('RtpLatch probation (RFC 3550 §A.1)', () => {
  it('latches a source after three consecutive packets of one SSRC, then accepts it', () => {
    const l = natCall();
    expect(run(l, CALLER, 5000, 0xdeadbeef, 65534, 5)).toEqual([
      Probation,
      Probation,
      Latched,
      Accept,
      Accept,
    ]);
    expect(l.latched).toBe(true);
    expect([l.address, l.port]).toEqual([CALLER, 5000]);
  });

  it('honours probationPackets (never below 2)', () => {
    expect(run(natCall({ probationPackets: 2 }), CALLER, 1, 1, 0, 2)).toEqual([Probation, Latched]);
    expect(run(natCall({ probationPackets: 1 }), CALLER, 1, 1, 0, 2)).toEqual([Probation, Latched]);
    expect(run(natCall({ probationPackets: 5 }), CALLER, 1, 1, 0, 5).at(-1)).toBe(Latched);
  });

  it('matchedProbationPackets: 1 latches the expected address at once, still proves everyone else', () => {
    const l = natCall({ matchedProbationPackets: 1 });
    expect(run(l, ATTACKER, 7000, 9, 0, 5)).toEqual([Foreign, Foreign, Foreign, Foreign, Foreign]);
    expect(run(l, CALLER, 4000, 1, 0, 2)).toEqual([Latched, Accept]);
    // With nothing to match (no signaling address, private SDP), the first source still needs probation.
    const blind = new RtpLatch({ matchedProbationPackets: 1 });
    blind.setSdp('10.0.0.7', false, true);
    expect(run(blind, ATTACKER, 7000, 9, 0, 3)).toEqual([Probation, Probation, Latched]);
  });

  it('a gap, a reorder or a new SSRC restarts the probation', () => {
    const l = natCall();
    expect(l.check(CALLER, 1, 7, 10)).toBe(Probation);
    expect(l.check(CALLER, 1, 7, 12)).toBe(Probation); // gap: count 1 again
    expect(l.check(CALLER, 1, 7, 11)).toBe(Probation); // reorder: count 1
    expect(l.check(CALLER, 1, 8, 12)).toBe(Probation); // other SSRC: count 1
    expect(l.check(CALLER, 1, 8, 13)).toBe(Probation);
    expect(l.check(CALLER, 1, 8, 14)).toBe(Latched);
  });

  it('two sources on probation at once do not reset each other', () => {
    const l = natCall();
    const verdicts: number[] = [];
    for (let i = 0; i < 3; i++) {
      verdicts.push(l.check(CALLER, 1000, 1, 100 + i));
      verdicts.push(l.check(CALLER, 2000, 2, 500 + i));
    }
    expect(verdicts).toEqual([Probation, Probation, Probation, Probation, Latched, Foreign]);
    expect(l.port).toBe(1000);
  });
});

describe('RtpLatch source preference', () => {
  it('an attacker spraying before the caller never latches while a preferred address is known', () => {
    const l = natCall();
    // 1,000 perfectly consecutive packets from elsewhere, before the caller sends anything.
    const spray = run(l, ATTACKER, 40000, 0x1234, 0, 1000);
    expect(spray.every((v) => v === Foreign)).toBe(true);
    expect(l.latched).toBe(false);
    // The caller still latches after its own probation, interleaved with more spray.
    const got: number[] = [];
    for (let i = 0; i < 3; i++) {
      got.push(l.check(CALLER, 5000, 0xabc, 7 + i));
      expect(l.check(ATTACKER, 40000, 0x1234, 1000 + i)).toBe(Foreign);
    }
    expect(got).toEqual([Probation, Probation, Latched]);
    expect(l.address).toBe(CALLER);
  });

  it('a flood from many attacker ports does not evict the caller from probation', () => {
    const l = natCall();
    expect(l.check(CALLER, 5000, 9, 1)).toBe(Probation);
    for (let p = 0; p < 200; p++) l.check(ATTACKER, 30000 + p, p, p);
    expect(l.check(CALLER, 5000, 9, 2)).toBe(Probation);
    for (let p = 0; p < 200; p++) l.check(ATTACKER, 31000 + p, p, p);
    expect(l.check(CALLER, 5000, 9, 3)).toBe(Latched);
  });

  it('a public SDP address is preferred like the signaling address', () => {
    const l = new RtpLatch();
    l.setSdp('198.51.100.7', true, true);
    expect(run(l, '203.0.113.9', 1, 1, 0, 10).every((v) => v === Foreign)).toBe(true);
    expect(run(l, '198.51.100.7', 2, 2, 0, 3).at(-1)).toBe(Latched);
  });

  it('behind a signaling proxy, a packet from exactly the (private) SDP address is preferred too', () => {
    // Kamailio relays the INVITE from 127.0.0.30; the caller's RTP comes from its SDP address 127.0.0.31.
    const l = new RtpLatch();
    l.setSignalingAddress('127.0.0.30');
    l.setSdp('127.0.0.31', false, true);
    expect(run(l, ATTACKER, 7000, 9, 0, 4)).toEqual([Foreign, Foreign, Foreign, Foreign]);
    expect(run(l, '127.0.0.31', 45320, 5, 0, 3)).toEqual([Probation, Probation, Latched]);
    expect(l.preferredSeen).toBe(true);
    expect(run(l, ATTACKER, 7000, 9, 4, 3)).toEqual([Foreign, Foreign, Foreign]);
  });

  it('with no preferred address known (private SDP, no signaling address) the first proven source latches', () => {
    const l = new RtpLatch();
    l.setSdp('192.168.1.20', false, true);
    expect(run(l, '203.0.113.9', 1, 1, 0, 3)).toEqual([Probation, Probation, Latched]);
  });

  it('another source may latch only after allowForeign() and only if no preferred packet was seen', () => {
    const l = natCall();
    expect(l.foreignNeedsGrace).toBe(true);
    expect(run(l, '198.51.100.50', 1, 1, 0, 5).every((v) => v === Foreign)).toBe(true);
    l.allowForeign();
    expect(l.check('198.51.100.50', 1, 1, 5)).toBe(Latched); // its probation already ran
    const seen = natCall();
    seen.check(CALLER, 9, 9, 0); // one preferred packet: the caller is alive, never fall back
    seen.allowForeign();
    expect(run(seen, '198.51.100.50', 1, 1, 0, 10).every((v) => v === Foreign)).toBe(true);
  });

  it('a preferred source that proves itself takes over from a fallback source; nothing else does', () => {
    const l = natCall();
    l.allowForeign();
    expect(run(l, '198.51.100.50', 1, 1, 0, 3).at(-1)).toBe(Latched);
    expect(run(l, ATTACKER, 2, 2, 0, 10).every((v) => v === Foreign)).toBe(true);
    expect(run(l, CALLER, 3, 3, 0, 3)).toEqual([Probation, Probation, Latched]);
    expect(l.address).toBe(CALLER);
    // Latched to a preferred source now: the fallback cannot come back with another stream.
    expect(run(l, '198.51.100.50', 1, 77, 3, 10).every((v) => v === Foreign)).toBe(true);
  });

  it("'sdp-only' latches nothing but the SDP address, whatever the signaling address", () => {
    const l = new RtpLatch({ policy: 'sdp-only' });
    l.setSignalingAddress(CALLER);
    l.setSdp('10.0.0.7', false, true);
    l.allowForeign();
    expect(run(l, CALLER, 1, 1, 0, 5).every((v) => v === Foreign)).toBe(true);
    expect(run(l, '10.0.0.7', 1, 1, 0, 3).at(-1)).toBe(Latched);
  });

  it("'first-source' latches whichever source completes probation first", () => {
    const l = new RtpLatch({ policy: 'first-source' });
    l.setSignalingAddress(CALLER);
    expect(run(l, ATTACKER, 1, 1, 0, 3).at(-1)).toBe(Latched);
  });

  it('normalises an IPv4-mapped signaling address', () => {
    const l = new RtpLatch();
    l.setSignalingAddress('::ffff:127.0.0.2');
    expect(run(l, CALLER, 1, 1, 0, 3).at(-1)).toBe(Latched);
  });
});

describe('RtpLatch mid-call', () => {
  function latched(): RtpLatch {
    const l = natCall();
    run(l, CALLER, 5000, 0xcafe, 100, 3);
    expect(l.latched).toBe(true);
    return l;
  }

  it('a different SSRC from another source never takes over, however consecutive', () => {
    const l = latched();
    expect(run(l, ATTACKER, 5000, 0xbad, 103, 500).every((v) => v === Foreign)).toBe(true);
    expect(run(l, CALLER, 6000, 0xbad, 0, 500).every((v) => v === Foreign)).toBe(true);
    expect(l.port).toBe(5000);
  });

  it('NAT rebinding: the same SSRC continuing its sequence from a new port re-latches after probation', () => {
    const l = latched();
    expect(run(l, CALLER, 5000, 0xcafe, 103, 2)).toEqual([Accept, Accept]); // last seq 104
    expect(run(l, CALLER, 6002, 0xcafe, 106, 3)).toEqual([Probation, Probation, Latched]); // 105 lost
    expect(l.port).toBe(6002);
    // The old binding is no longer delivered; it would have to prove itself again like any move.
    expect(l.check(CALLER, 5000, 0xcafe, 109)).toBe(Probation);
    expect(l.check(CALLER, 5000, 0x5555, 110)).toBe(Foreign);
  });

  it('a source with the latched SSRC but not continuing the sequence is foreign', () => {
    const l = latched(); // last seq 102
    expect(run(l, ATTACKER, 1, 0xcafe, 5000, 10).every((v) => v === Foreign)).toBe(true);
    expect(run(l, ATTACKER, 1, 0xcafe, 90, 10).every((v) => v === Foreign)).toBe(true);
  });

  it('the latched source may restart with a new SSRC (RFC 3550 §8.2) and stays latched', () => {
    const l = latched();
    expect(run(l, CALLER, 5000, 0x9999, 7, 3)).toEqual([Accept, Accept, Accept]);
  });

  it('a new SDP address or port unlatches; the same SDP again does not', () => {
    const l = latched();
    l.setSdp('10.0.0.7', false, false);
    expect(l.latched).toBe(true);
    l.setSdp('10.0.0.7', false, true);
    expect(l.latched).toBe(false);
    expect(run(l, CALLER, 5002, 1, 0, 3).at(-1)).toBe(Latched);
  });
});
