import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EmbeddedSignaling } from '../../../src/sip/embedded/index.js';
import type { SipMessage, SipRequest, SipResponse } from '../../../src/sip/embedded/message.js';
import type { Dialog } from '../../../src/sip/signaling.js';
import { RawUdpPeer, isRequest, isStatus, rawInvite, rawResponse, sdp, startUa } from './helpers.js';

let server: EmbeddedSignaling;
let peer: RawUdpPeer;
beforeEach(async () => {
  server = await startUa(['udp'], 50);
  peer = await RawUdpPeer.open();
});
afterEach(async () => {
  peer.close();
  await server.close();
});

const reply = (request: SipMessage, status: number, reason: string, headers: Record<string, string> = {}) =>
  rawResponse(request, status, { reason, headers });

function inDialog(
  method: string,
  seq: number,
  toHeader: string,
  callId: string,
  extra: string,
  body = '',
): string {
  return (
    `${method} sip:switchboard@127.0.0.1:${server.port} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK${method}${seq}x\r\nMax-Forwards: 70\r\n` +
    `From: "Caller" <sip:+15551234@127.0.0.1:${peer.port}>;tag=abc\r\nTo: ${toHeader}\r\n` +
    `Call-ID: ${callId}\r\nCSeq: ${seq} ${method}\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** Raw INVITE → our 200; returns the 200 (the ACK is up to the test). */
async function answeredCall(callId: string): Promise<{ ok: SipMessage; dialog: Promise<Dialog> }> {
  const dialog = new Promise<Dialog>((resolve, reject) =>
    server.onInvite((call) => void call.answer(sdp(5000)).then(resolve, reject)),
  );
  peer.send(rawInvite(peer.port, { callId, branch: `z9hG4bK${callId}`, body: sdp(6000) }), server.port);
  const ok = await peer.next(isStatus(200, 'INVITE'));
  return { ok, dialog };
}

describe('EmbeddedSignaling against a raw UDP peer', () => {
  it('sends 100 Trying, retransmits the 200 until a late ACK, then stops', async () => {
    const { ok, dialog } = await answeredCall('late-ack');
    expect(peer.messages.some(isStatus(100))).toBe(true);
    expect(ok.headers.get('Contact')).toMatch(/transport=udp/);
    expect(ok.headers.get('Via')).toMatch(/rport=\d+/);
    await new Promise((r) => setTimeout(r, 400)); // T1 = 50 ms: 50, 100, 200 → ≥ 3 copies by now
    const copies = peer.messages.filter(isStatus(200, 'INVITE')).length;
    expect(copies).toBeGreaterThanOrEqual(3);
    peer.send(inDialog('ACK', 1, ok.headers.get('To')!, 'late-ack', ''), server.port);
    const d = await dialog;
    expect(d.remoteSdp).toContain('m=audio 6000');
    const after = peer.messages.filter(isStatus(200, 'INVITE')).length;
    await new Promise((r) => setTimeout(r, 500));
    expect(peer.messages.filter(isStatus(200, 'INVITE')).length).toBeLessThanOrEqual(after + 1);
  });

  it('rejects answer() with 408 and sends BYE when the ACK never comes', async () => {
    const { dialog } = await answeredCall('no-ack');
    await expect(dialog).rejects.toMatchObject({ status: 408 });
    await peer.next(isRequest('BYE'));
  });

  it('a retransmitted INVITE gets the last provisional again', async () => {
    server.onInvite((call) => void call.ring());
    const invite = rawInvite(peer.port, { callId: 'retx', branch: 'z9hG4bKretx', body: sdp(6000) });
    peer.send(invite, server.port);
    await peer.next(isStatus(180));
    peer.send(invite, server.port);
    await new Promise((r) => setTimeout(r, 100));
    expect(peer.messages.filter(isStatus(180)).length).toBe(2);
  });

  it('REFER resolves with the final NOTIFY sipfrag', async () => {
    const { ok, dialog } = await answeredCall('refer');
    const to = ok.headers.get('To')!;
    peer.send(inDialog('ACK', 1, to, 'refer', ''), server.port);
    const d = await dialog;
    const result = d.refer('sip:human@127.0.0.1', { referredBy: '<sip:agent@127.0.0.1>' });
    const refer = (await peer.next(isRequest('REFER'))) as SipRequest;
    expect(refer.headers.get('Refer-To')).toBe('<sip:human@127.0.0.1>');
    expect(refer.headers.get('b')).toBe('<sip:agent@127.0.0.1>');
    peer.send(reply(refer, 202, 'Accepted'), server.port);
    const frag = (status: string, state: string, seq: number): string =>
      inDialog(
        'NOTIFY',
        seq,
        to,
        'refer',
        `Event: refer\r\nSubscription-State: ${state}\r\nContent-Type: message/sipfrag;version=2.0\r\n`,
        `SIP/2.0 ${status}\r\n`,
      );
    peer.send(frag('100 Trying', 'active;expires=60', 2), server.port);
    peer.send(frag('200 OK', 'terminated;reason=noresource', 3), server.port);
    expect(await result).toEqual({ status: 200, reason: 'OK' });
    await peer.next((m) => isStatus(200, 'NOTIFY')(m) && (m.headers.get('CSeq') ?? '').startsWith('3'));
  });

  it('REFER failure status resolves the refer', async () => {
    const { ok, dialog } = await answeredCall('refer-fail');
    peer.send(inDialog('ACK', 1, ok.headers.get('To')!, 'refer-fail', ''), server.port);
    const d = await dialog;
    const result = d.refer('sip:human@127.0.0.1');
    peer.send(reply(await peer.next(isRequest('REFER')), 403, 'Forbidden'), server.port);
    expect(await result).toEqual({ status: 403, reason: 'Forbidden' });
  });

  it('answers OPTIONS, 481 for unknown dialogs, 405 for unsupported methods, 500 for an old CSeq', async () => {
    peer.send(inDialog('OPTIONS', 1, '<sip:agent@127.0.0.1>', 'opt', ''), server.port);
    const options = await peer.next(isStatus(200, 'OPTIONS'));
    expect(options.headers.getAll('Allow')).toContain('INVITE');
    expect(options.headers.get('Accept')).toBe('application/sdp');
    peer.send(inDialog('BYE', 1, '<sip:agent@127.0.0.1>;tag=nope', 'x', ''), server.port);
    await peer.next(isStatus(481, 'BYE'));
    peer.send(inDialog('MESSAGE', 1, '<sip:agent@127.0.0.1>', 'msg', ''), server.port);
    expect((await peer.next(isStatus(405, 'MESSAGE'))).headers.getAll('Allow')).toContain('BYE');

    const { ok, dialog } = await answeredCall('cseq');
    const to = ok.headers.get('To')!;
    peer.send(inDialog('ACK', 1, to, 'cseq', ''), server.port);
    const d = await dialog;
    peer.send(
      inDialog('INFO', 5, to, 'cseq', 'Content-Type: application/dtmf-relay\r\n', 'Signal=1\r\n'),
      server.port,
    );
    await peer.next(isStatus(200, 'INFO'));
    peer.send(inDialog('INFO', 3, to, 'cseq', ''), server.port);
    await peer.next(isStatus(500, 'INFO'));
    peer.send(inDialog('BYE', 6, to, 'cseq', ''), server.port);
    await peer.next(isStatus(200, 'BYE'));
    expect(d.ended).toBe(true);
  });

  it('answers UPDATE with the current local SDP when nobody listens, and updates remoteSdp', async () => {
    const { ok, dialog } = await answeredCall('update');
    const to = ok.headers.get('To')!;
    peer.send(inDialog('ACK', 1, to, 'update', ''), server.port);
    const d = await dialog;
    const offer = sdp(6002, 2);
    peer.send(inDialog('UPDATE', 2, to, 'update', 'Content-Type: application/sdp\r\n', offer), server.port);
    const res = await peer.next(isStatus(200, 'UPDATE'));
    expect(res.body.toString()).toContain('m=audio 5000');
    expect(d.remoteSdp).toContain('m=audio 6002');
  });

  it('drops garbage, answers malformed requests with 400 and never crashes', async () => {
    server.onInvite((call) => void call.reject(603));
    peer.send(Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]), server.port);
    peer.send('hello world\r\n\r\n', server.port);
    peer.send(Buffer.alloc(70_000, 65), server.port);
    // CSeq method mismatch → 400 that says why.
    peer.send(
      rawInvite(peer.port, { callId: 'bad1', branch: 'z9hG4bKbad1' }).replace(
        'CSeq: 1 INVITE',
        'CSeq: 1 BYE',
      ),
      server.port,
    );
    expect(((await peer.next(isStatus(400))) as SipResponse).reason).toMatch(/CSeq/);
    // Negative Content-Length.
    peer.send(
      rawInvite(peer.port, { callId: 'bad2', branch: 'z9hG4bKbad2' }).replace(
        'Content-Length: 0',
        'Content-Length: -5',
      ),
      server.port,
    );
    await peer.next((m) => isStatus(400)(m) && m.headers.get('Call-ID') === 'bad2');
    // Content-Length larger than the datagram.
    peer.send(
      rawInvite(peer.port, { callId: 'bad3', branch: 'z9hG4bKbad3' }).replace(
        'Content-Length: 0',
        'Content-Length: 500',
      ),
      server.port,
    );
    await peer.next((m) => isStatus(400)(m) && m.headers.get('Call-ID') === 'bad3');
    // Missing Call-ID: no response possible, dropped.
    peer.send(
      rawInvite(peer.port, { callId: 'bad4', branch: 'z9hG4bKbad4' }).replace('Call-ID: bad4\r\n', ''),
      server.port,
    );
    // Huge header.
    peer.send(
      rawInvite(peer.port, {
        callId: 'bad5',
        branch: 'z9hG4bKbad5',
        extra: `X-Big: ${'a'.repeat(66_000)}\r\n`,
      }),
      server.port,
    );
    // A good one still works afterwards.
    peer.send(rawInvite(peer.port, { callId: 'good', branch: 'z9hG4bKgood', body: sdp(6000) }), server.port);
    await peer.next((m) => isStatus(603)(m) && m.headers.get('Call-ID') === 'good');
    expect(server.stats.unparseableDropped).toBeGreaterThanOrEqual(4);
    expect(server.stats.badRequestsSent).toBeGreaterThanOrEqual(3);
    expect(server.stats.invalidDropped).toBeGreaterThanOrEqual(1);
    expect(peer.messages.some((m) => m.headers.get('Call-ID') === 'bad4')).toBe(false);
  });
});
