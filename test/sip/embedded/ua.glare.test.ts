/** §14.1 / §14.2 re-INVITE glare on a fake clock: 491 for the peer's INVITE, our retry after the random delay. */
import { describe, expect, it } from 'vitest';
import type { EmbeddedSignaling } from '../../../src/sip/embedded/index.js';
import type { SipMessage } from '../../../src/sip/embedded/message.js';
import { glareRetryMs } from '../../../src/sip/embedded/modify.js';
import type { Dialog } from '../../../src/sip/signaling.js';
import type { FakeScheduler } from './fake-scheduler.js';
import type { RawUdpPeer } from './helpers.js';
import { isRequest, isStatus, rawInvite, rawResponse, sdp, withUaOnClock } from './helpers.js';

let clock: FakeScheduler;
let ua: EmbeddedSignaling;
let peer: RawUdpPeer;
withUaOnClock((f) => ({ clock, ua, peer } = f));

const reply = (request: SipMessage, status: number, body = ''): Buffer =>
  rawResponse(request, status, { headers: { Contact: `<sip:caller@127.0.0.1:${peer.port}>` }, body });

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

describe('re-INVITE glare (§14.1, §14.2)', () => {
  it('the Call-ID owner waits 2.1–4 s, the other side 0–2 s, in 10 ms units', () => {
    expect(glareRetryMs(true, () => 0)).toBe(2100);
    expect(glareRetryMs(true, () => 0.9999)).toBe(4000);
    expect(glareRetryMs(false, () => 0)).toBe(0);
    expect(glareRetryMs(false, () => 0.9999)).toBe(2000);
    expect(glareRetryMs(false, () => 0.123456) % 10).toBe(0);
  });

  it('answers 491 to a re-INVITE crossing ours, then retries ours after the 491 it got', async () => {
    const answered = new Promise<Dialog>((resolve, reject) =>
      ua.onInvite((call) => void call.answer(sdp(5000)).then(resolve, reject)),
    );
    peer.send(rawInvite(peer.port, { callId: 'glare-1', branch: 'z9hG4bKglare1', body: sdp(6000) }), ua.port);
    const ok = await peer.next(isStatus(200, 'INVITE'));
    const toHeader = ok.headers.get('To')!;
    const inDialog = (method: string, seq: number, branch: string, body = ''): string =>
      `${method} sip:switchboard@127.0.0.1:${ua.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=${branch}\r\n` +
      `Max-Forwards: 70\r\nFrom: "Caller" <sip:+15551234@127.0.0.1:${peer.port}>;tag=abc\r\nTo: ${toHeader}\r\n` +
      `Call-ID: glare-1\r\nCSeq: ${seq} ${method}\r\nContact: <sip:caller@127.0.0.1:${peer.port}>\r\n` +
      (body === '' ? '' : 'Content-Type: application/sdp\r\n') +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    peer.send(inDialog('ACK', 1, 'z9hG4bKack1'), ua.port);
    const dialog = await answered;

    const modified = dialog.modify(sdp(5000, 2));
    const ours = await peer.next(isRequest('INVITE'), 3000, 1);
    // The peer's own re-INVITE crosses ours: §14.2 → 491.
    peer.send(inDialog('INVITE', 2, 'z9hG4bKtheirs', sdp(6002, 2)), ua.port);
    const pending = await peer.next(isStatus(491, 'INVITE'));
    expect(pending.headers.get('CSeq')).toBe('2 INVITE');
    // The peer rejects ours the same way; we ACK it on the INVITE's branch.
    peer.send(reply(ours, 491), ua.port);
    const ack = await peer.next(isRequest('ACK'));
    expect(ack.headers.get('Via')).toBe(ours.headers.get('Via'));
    await tick();
    const before = peer.messages.filter(isRequest('INVITE')).length;
    clock.advance(2000); // not the Call-ID owner: the retry comes within 2 s
    const retry = await peer.next(
      (m) => isRequest('INVITE')(m) && m.headers.get('CSeq') !== ours.headers.get('CSeq'),
    );
    expect(peer.messages.filter(isRequest('INVITE')).length).toBe(before + 1);
    const seqOf = (m: SipMessage): number => Number((m.headers.get('CSeq') ?? '').split(' ')[0]);
    expect(seqOf(retry)).toBeGreaterThan(seqOf(ours));
    peer.send(reply(retry, 200, sdp(6004, 3)), ua.port);
    await expect(modified).resolves.toContain('m=audio 6004');
  });

  it('as Call-ID owner (we dialled) it does not retry before 2.1 s', async () => {
    const dialed = ua.dial(`sip:callee@127.0.0.1:${peer.port}`, { sdpOffer: sdp(5000) });
    const invite = await peer.next(isRequest('INVITE'));
    const contact = `<sip:callee@127.0.0.1:${peer.port}>`;
    peer.send(
      rawResponse(invite, 200, {
        reason: 'OK',
        toTag: 'callee1',
        headers: { Contact: contact },
        body: sdp(6000),
      }),
      ua.port,
    );
    const dialog = await dialed;
    const modified = dialog.modify(sdp(5000, 2));
    const ours = await peer.next((m) => isRequest('INVITE')(m) && m !== invite);
    peer.send(reply(ours, 491), ua.port);
    await tick();
    clock.advance(2099);
    await tick();
    expect(peer.messages.filter(isRequest('INVITE'))).toHaveLength(2);
    clock.advance(1901);
    const retry = await peer.next((m) => isRequest('INVITE')(m) && m !== invite && m !== ours);
    peer.send(reply(retry, 200, sdp(6002, 2)), ua.port);
    await expect(modified).resolves.toContain('m=audio 6002');
  });
});
