import { describe, expect, it } from 'vitest';
import type { EmbeddedSignaling } from '../../../src/sip/embedded/index.js';
import { SipHeaders, type SipRequest } from '../../../src/sip/embedded/message.js';
import {
  DEFAULT_SESSION_TIMER,
  SessionTimer,
  negotiateUas,
  parseSessionExpires,
} from '../../../src/sip/embedded/session-timer.js';
import { FakeScheduler } from './fake-scheduler.js';
import type { RawUdpPeer } from './helpers.js';
import { isRequest, rawResponse, sdp, withUaOnClock } from './helpers.js';

function invite(headers: Record<string, string>): SipRequest {
  const h = new SipHeaders();
  for (const [k, v] of Object.entries(headers)) h.append(k, v);
  return { kind: 'request', method: 'INVITE', uri: 'sip:a@b', headers: h, body: Buffer.alloc(0) };
}

describe('RFC 4028 negotiation (§9)', () => {
  const config = { minSeconds: 90, defaultSeconds: 1800 };
  it('parses Session-Expires with and without refresher', () => {
    expect(parseSessionExpires('1800;refresher=UAS')).toEqual({ seconds: 1800, refresher: 'uas' });
    expect(parseSessionExpires(' 90 ')).toEqual({ seconds: 90, refresher: undefined });
    expect(parseSessionExpires('soon')).toBeUndefined();
  });

  it('runs no timer when the UAC neither asks nor supports it', () => {
    expect(negotiateUas(invite({}), config)).toEqual({ kind: 'none' });
  });

  it('refuses an interval below our minimum with 422 naming it', () => {
    expect(negotiateUas(invite({ 'Session-Expires': '60', Supported: 'timer' }), config)).toEqual({
      kind: 'too-small',
      minSeconds: 90,
    });
  });

  it('honours the interval and refresher asked for, and Require: timer when the UAC supports it', () => {
    const n = negotiateUas(invite({ 'Session-Expires': '120;refresher=uas', Supported: 'timer' }), config);
    expect(n).toMatchObject({ kind: 'run', seconds: 120, refresher: 'uas' });
    if (n.kind === 'run')
      expect(n.headers).toEqual({ 'Session-Expires': '120;refresher=uas', Require: 'timer' });
  });

  it('lets a timer-capable UAC refresh by default; without support we refresh (no Require)', () => {
    expect(negotiateUas(invite({ Supported: 'timer', 'Min-SE': '2000' }), config)).toMatchObject({
      kind: 'run',
      seconds: 2000,
      refresher: 'uac',
    });
    const n = negotiateUas(invite({ 'Session-Expires': '300' }), config);
    expect(n).toMatchObject({ kind: 'run', seconds: 300, refresher: 'uas' });
    if (n.kind === 'run') expect(n.headers.Require).toBeUndefined();
  });
});

describe('SessionTimer (§10) on a fake clock', () => {
  it('refreshes at half the interval and re-arms with what the answer granted', async () => {
    const clock = new FakeScheduler();
    const refreshes: number[] = [];
    const expired: number[] = [];
    const timer = new SessionTimer({
      scheduler: clock,
      refresh: (seconds) => {
        refreshes.push(clock.nowMs);
        return Promise.resolve({ seconds: seconds * 2, weRefresh: true });
      },
      expire: () => expired.push(clock.nowMs),
    });
    timer.arm(90, true);
    clock.advance(44_999);
    expect(refreshes).toEqual([]);
    clock.advance(1);
    expect(refreshes).toEqual([45_000]);
    await Promise.resolve();
    await Promise.resolve();
    clock.advance(90_000); // granted 180 s → next refresh 90 s later
    expect(refreshes).toEqual([45_000, 135_000]);
    expect(expired).toEqual([]);
    timer.stop();
  });

  it('expires when our refresh fails, and as non-refresher at interval - min(32 s, interval/3)', async () => {
    const clock = new FakeScheduler();
    const expired: number[] = [];
    const failing = new SessionTimer({
      scheduler: clock,
      refresh: () => Promise.resolve(undefined),
      expire: () => expired.push(clock.nowMs),
    });
    failing.arm(100, true);
    clock.advance(50_000);
    await Promise.resolve();
    await Promise.resolve();
    expect(expired).toEqual([50_000]);
    for (const [seconds, atMs] of [
      [90, 60_000],
      [1800, 1_768_000],
    ] as const) {
      const c = new FakeScheduler();
      const at: number[] = [];
      new SessionTimer({
        scheduler: c,
        refresh: () => Promise.resolve(undefined),
        expire: () => at.push(c.nowMs),
      }).arm(seconds, false);
      c.advance(atMs - 1);
      expect(at).toEqual([]);
      c.advance(1);
      expect(at).toEqual([atMs]);
    }
  });
});

describe('UAC session timer against a raw peer (fake clock)', () => {
  let clock: FakeScheduler;
  let ua: EmbeddedSignaling;
  let peer: RawUdpPeer;
  withUaOnClock((f) => ({ clock, ua, peer } = f));

  it('offers a timer, retries a 422 with the Min-SE, and refreshes with UPDATE at half the granted interval', async () => {
    const dialed = ua.dial(`sip:callee@127.0.0.1:${peer.port}`, { sdpOffer: sdp(30000) });
    const first = await peer.next(isRequest('INVITE'));
    expect(first.headers.get('Session-Expires')).toBe(String(DEFAULT_SESSION_TIMER.defaultSeconds));
    expect(first.headers.get('Min-SE')).toBe('90');
    expect(first.headers.getAll('Supported')).toContain('timer');
    peer.send(rawResponse(first, 422, { toTag: 'peer1', headers: { 'Min-SE': '3600' } }), ua.port);
    const second = await peer.next((m) => isRequest('INVITE')(m) && m !== first);
    expect(second.headers.get('Session-Expires')).toBe('3600');
    expect(second.headers.get('CSeq')).toBe('2 INVITE');
    expect(second.headers.get('Call-ID')).toBe(first.headers.get('Call-ID'));
    peer.send(
      rawResponse(second, 200, {
        toTag: 'peer1',
        headers: {
          Contact: `<sip:callee@127.0.0.1:${peer.port}>`,
          Allow: 'INVITE, ACK, BYE, UPDATE',
          'Session-Expires': '3600;refresher=uac',
          Require: 'timer',
        },
        body: sdp(30002),
      }),
      ua.port,
    );
    await dialed;
    await peer.next(isRequest('ACK'));
    clock.advance(1_799_999);
    await new Promise((r) => setTimeout(r, 30));
    expect(peer.messages.filter(isRequest('UPDATE'))).toEqual([]);
    clock.advance(1);
    const update = await peer.next(isRequest('UPDATE'));
    expect(update.headers.get('Session-Expires')).toBe('3600;refresher=uac');
  });
});
