/**
 * What the stack guarantees around CANCEL (RFC 3261 §9.2): a CANCEL read before the application answered
 * yields 200 (CANCEL) + 487 at once and a synchronous 'cancel' event, after which answer() rejects with 487;
 * a CANCEL that crosses our 2xx gets 200 and changes nothing (the caller must BYE).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EmbeddedSignaling } from '../../../src/sip/embedded/index.js';
import type { SipMessage } from '../../../src/sip/embedded/message.js';
import { SipError, type IncomingCall } from '../../../src/sip/signaling.js';
import { RawUdpPeer, isStatus, rawInvite, sdp, startUa } from './helpers.js';

let ua: EmbeddedSignaling;
let peer: RawUdpPeer;
beforeEach(async () => {
  ua = await startUa(['udp'], 50);
  peer = await RawUdpPeer.open();
});
afterEach(async () => {
  peer.close();
  await ua.close();
});

function cancelFor(callId: string, branch: string): string {
  return (
    `CANCEL sip:agent@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=${branch};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: "Caller" <sip:+15551234@127.0.0.1:${peer.port}>;tag=abc\r\nTo: <sip:agent@127.0.0.1>\r\n` +
    `Call-ID: ${callId}\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n`
  );
}

const tagOf = (m: SipMessage): string | undefined => /;\s*tag=([^;\s]+)/.exec(m.headers.get('To') ?? '')?.[1];

describe('CANCEL guarantees of the embedded stack (§9.2)', () => {
  it('a CANCEL before the answer: 200 + 487 with one To tag, cancel emitted synchronously, answer() rejects 487', async () => {
    const events: string[] = [];
    const incoming = new Promise<IncomingCall>((resolve) =>
      ua.onInvite((call) => {
        void call.ring();
        call.on('cancel', () => events.push(`cancel cancelled=${call.cancelled}`));
        resolve(call);
      }),
    );
    peer.send(rawInvite(peer.port, { callId: 'c-1', branch: 'z9hG4bKc1', body: sdp(6000) }), ua.port);
    const call = await incoming;
    const ringing = await peer.next(isStatus(180));
    peer.send(cancelFor('c-1', 'z9hG4bKc1'), ua.port);
    const ok = await peer.next(isStatus(200, 'CANCEL'));
    const terminated = await peer.next(isStatus(487, 'INVITE'));
    expect(events).toEqual(['cancel cancelled=true']);
    expect(tagOf(ok)).toBe(tagOf(ringing));
    expect(tagOf(terminated)).toBe(tagOf(ringing));
    await expect(call.answer(sdp(5000))).rejects.toMatchObject({ status: 487 });
    await expect(call.answer(sdp(5000))).rejects.toBeInstanceOf(SipError);
  });

  it('a CANCEL crossing our 2xx gets 200 and no 487; the call stands', async () => {
    let cancelEvents = 0;
    ua.onInvite((call) => {
      call.on('cancel', () => cancelEvents++);
      void call.answer(sdp(5000)).catch(() => undefined); // answered at once, in the INVITE's turn
    });
    peer.send(rawInvite(peer.port, { callId: 'c-2', branch: 'z9hG4bKc2', body: sdp(6000) }), ua.port);
    const answered = await peer.next(isStatus(200, 'INVITE'));
    peer.send(cancelFor('c-2', 'z9hG4bKc2'), ua.port);
    const ok = await peer.next(isStatus(200, 'CANCEL'));
    expect(tagOf(ok)).toBe(tagOf(answered));
    await new Promise((r) => setTimeout(r, 200));
    expect(peer.messages.filter(isStatus(487))).toEqual([]);
    expect(cancelEvents).toBe(0);
    expect(ua.stats.activeDialogs).toBe(1);
  });
});
