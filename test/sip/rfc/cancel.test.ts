/**
 * CANCEL races (RFC 3261 §9.2) on the production server with a raw UDP caller: a CANCEL sent right behind
 * its INVITE (same turn, back-to-back datagrams) must win over any final response — 200 for the CANCEL,
 * 487 for the INVITE, never a 200 — and leave no call behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipMessage } from '../../../src/sip/embedded/message.js';
import type { TestServer } from '../../support/server.js';
import type { RawUdpPeer } from '../embedded/helpers.js';
import { ackFor, openPeer, request, sdpOffer, settle, startRfcServer, token } from './raw-server.js';

let srv: TestServer;
let peer: RawUdpPeer;
beforeAll(async () => {
  srv = await startRfcServer();
  peer = await openPeer();
});
afterAll(async () => {
  peer.close();
  await srv.close();
});

const response =
  (callId: string, status: number, method: string) =>
  (m: SipMessage): boolean =>
    m.kind === 'response' &&
    m.status === status &&
    m.headers.get('Call-ID') === callId &&
    (m.headers.get('CSeq') ?? '').endsWith(method);

const tagOf = (m: SipMessage): string | undefined => /;\s*tag=([^;\s]+)/.exec(m.headers.get('To') ?? '')?.[1];

describe('CANCEL right behind an INVITE (production server)', () => {
  it.each([1, 2, 3])('is processed before any final response (try %i): 200 + 487, no call', async () => {
    const branch = `z9hG4bK${token()}`;
    const from = peer.messages.length;
    const invite = request(peer, {
      method: 'INVITE',
      body: sdpOffer(peer.address, 42_000),
    });
    const text = invite.text.replace(/branch=z9hG4bK[0-9a-f]+/, `branch=${branch}`);
    // §9.1: the CANCEL copies Request-URI, Call-ID, From, To, the CSeq number and the top Via.
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    const keep = head
      .split('\r\n')
      .slice(1)
      .filter((l) => /^(Via|From|To|Call-ID|Max-Forwards):/i.test(l));
    const cancel = [
      'CANCEL sip:100@127.0.0.1 SIP/2.0',
      ...keep,
      'CSeq: 1 CANCEL',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    peer.send(text, srv.sipPort);
    peer.send(cancel, srv.sipPort);
    const cancelled = await peer.next(response(invite.callId, 200, 'CANCEL'), 3000, from);
    const terminated = await peer.next(response(invite.callId, 487, 'INVITE'), 3000, from);
    // §9.2: the 200 to the CANCEL and the 487 carry the same To tag.
    expect(tagOf(cancelled)).toBeDefined();
    expect(tagOf(cancelled)).toBe(tagOf(terminated));
    peer.send(ackFor(terminated, 'sip:100@127.0.0.1'), srv.sipPort);
    const got = await settle(peer, from);
    expect(got.filter(response(invite.callId, 200, 'INVITE'))).toEqual([]);
    expect(srv.server.calls.size).toBe(0);
  });
});
