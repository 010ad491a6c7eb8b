/**
 * Transaction-layer timers seen from the UA, on a fake clock with real sockets: Timer B vs a ringing callee
 * (§17.1.1.2), our own ring bound with CANCEL (DialOptions.timeoutMs, the §16.6 Timer C idea for a UA), and
 * the UAS 2xx retransmission schedule until the ACK (§13.3.1.4).
 */
import { describe, expect, it } from 'vitest';
import type { EmbeddedSignaling } from '../../../src/sip/embedded/index.js';
import type { SipMessage } from '../../../src/sip/embedded/message.js';
import { SipError, type Dialog } from '../../../src/sip/signaling.js';
import type { FakeScheduler } from './fake-scheduler.js';
import type { RawUdpPeer } from './helpers.js';
import { isRequest, isStatus, rawInvite, rawResponse, sdp, withUaOnClock } from './helpers.js';

let clock: FakeScheduler;
let ua: EmbeddedSignaling;
let peer: RawUdpPeer;
withUaOnClock((f) => ({ clock, ua, peer } = f));

/** The callee's response: To tagged `callee1`. */
const reply = (
  request: SipMessage,
  status: number,
  headers: Record<string, string> = {},
  body = '',
): Buffer => rawResponse(request, status, { toTag: 'callee1', headers, body });

const target = (): string => `sip:callee@127.0.0.1:${peer.port}`;

describe('UAC timers on a fake clock', () => {
  it('a callee ringing for 40 s is answered normally: the 180 stopped Timer B', async () => {
    const dialed = ua.dial(target(), { sdpOffer: sdp(30000), timeoutMs: 120_000 });
    const invite = await peer.next(isRequest('INVITE'));
    peer.send(reply(invite, 180), ua.port);
    await new Promise((r) => setTimeout(r, 50)); // let the 180 arrive before time moves
    clock.advance(40_000);
    peer.send(reply(invite, 200, { Contact: `<sip:callee@127.0.0.1:${peer.port}>` }, sdp(30002)), ua.port);
    const dialog: Dialog = await dialed;
    expect(dialog.remoteSdp).toContain('m=audio 30002');
    await peer.next(isRequest('ACK'));
    expect(peer.messages.filter(isRequest('CANCEL'))).toEqual([]);
    // Only the one INVITE: a provisional also stops Timer A.
    expect(peer.messages.filter(isRequest('INVITE'))).toHaveLength(1);
  });

  it('gives up after DialOptions.timeoutMs with a CANCEL, ACKs the 487 and rejects with 408', async () => {
    const dialed = ua.dial(target(), { sdpOffer: sdp(30000), timeoutMs: 45_000 });
    const failure = dialed.then(
      () => undefined,
      (err: unknown) => err,
    );
    const invite = await peer.next(isRequest('INVITE'));
    peer.send(reply(invite, 180), ua.port);
    await new Promise((r) => setTimeout(r, 50));
    clock.advance(44_999);
    expect(peer.messages.filter(isRequest('CANCEL'))).toEqual([]);
    clock.advance(1);
    const cancel = await peer.next(isRequest('CANCEL'));
    // §9.1: the CANCEL has the INVITE's Request-URI, Call-ID, From, To, CSeq number and top Via.
    expect(cancel.kind === 'request' && cancel.uri).toBe(invite.kind === 'request' && invite.uri);
    expect(cancel.headers.get('Via')).toBe(invite.headers.get('Via'));
    expect(cancel.headers.get('CSeq')).toBe(invite.headers.get('CSeq')!.replace('INVITE', 'CANCEL'));
    const err = await failure;
    expect(err).toBeInstanceOf(SipError);
    expect((err as SipError).status).toBe(408);
    peer.send(reply(cancel, 200), ua.port);
    peer.send(reply(invite, 487), ua.port);
    const ack = await peer.next(isRequest('ACK'));
    expect(ack.headers.get('CSeq')).toMatch(/ ACK$/);
    expect(ack.headers.get('Via')).toBe(invite.headers.get('Via'));
  });

  it('a callee that never answers the INVITE at all still times out with Timer B (no CANCEL before a 1xx)', async () => {
    const failure = ua.dial(target(), { sdpOffer: sdp(30000), timeoutMs: 120_000 }).catch((e: unknown) => e);
    await peer.next(isRequest('INVITE'));
    clock.advance(64 * 500);
    expect(((await failure) as SipError).status).toBe(408);
    expect(peer.messages.filter(isRequest('CANCEL'))).toEqual([]);
  });
});

describe('UAS 2xx retransmission on a fake clock (§13.3.1.4)', () => {
  it('resends the 200 at T1, 2T1, 4T1, … capped at T2 until the ACK, then stops', async () => {
    const answered = new Promise<Dialog>((resolve, reject) =>
      ua.onInvite((call) => void call.answer(sdp(31000)).then(resolve, reject)),
    );
    peer.send(rawInvite(peer.port, { callId: 'retx-2xx', branch: 'z9hG4bKretx', body: sdp(6000) }), ua.port);
    await peer.next(isStatus(200, 'INVITE'));
    const count = (): number => peer.messages.filter(isStatus(200, 'INVITE')).length;
    // Offsets 500, 1500, 3500, 7500, 11500 (doubling from T1 = 500 ms, capped at T2 = 4 s).
    for (const [stepMs, expected] of [
      [499, 1],
      [1, 2],
      [1000, 3],
      [2000, 4],
      [4000, 5],
      [4000, 6],
    ] as const) {
      clock.advance(stepMs);
      if (expected > count()) await peer.next((m) => isStatus(200, 'INVITE')(m) && count() >= expected, 2000);
      await new Promise((r) => setTimeout(r, 20));
      expect(count()).toBe(expected);
    }
    const ok = peer.messages.find(isStatus(200, 'INVITE'))!;
    const ack =
      `ACK sip:switchboard@127.0.0.1:${ua.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bKack1\r\n` +
      `Max-Forwards: 70\r\nFrom: ${ok.headers.get('From')}\r\nTo: ${ok.headers.get('To')}\r\nCall-ID: retx-2xx\r\n` +
      `CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`;
    peer.send(ack, ua.port);
    await answered;
    clock.advance(30_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(count()).toBe(6);
  });
});
