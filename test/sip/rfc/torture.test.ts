/**
 * RFC 4475 §3.1.1 / §3.1.2 torture messages sent as raw UDP datagrams to the production server. The peer
 * listens on port 5060 (and 5050) of its own loopback address, because most messages carry a port-less Via
 * without rport and §18.2.2 sends the answer to the source address at the Via's (default) port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedSignaling } from '../../../src/sip/embedded/index.js';
import type { SipMessage } from '../../../src/sip/embedded/message.js';
import type { TestServer } from '../../support/server.js';
import { RawUdpPeer } from '../embedded/helpers.js';
import { ackFor, openPeer, request, settle, startRfcServer } from './raw-server.js';
import { callIdOf, type TortureCase } from './torture/build.js';
import { INVALID } from './torture/invalid.js';
import { VALID } from './torture/valid.js';

let srv: TestServer;
let peer: RawUdpPeer;
let peer5050: RawUdpPeer;
beforeAll(async () => {
  srv = await startRfcServer();
  peer = await openPeer(5060);
  peer5050 = await RawUdpPeer.open(peer.address, 5050);
});
afterAll(async () => {
  peer.close();
  peer5050.close();
  await srv.close();
});

const stats = (): EmbeddedSignaling['stats'] => (srv.server.signaling as EmbeddedSignaling).stats;
const withCallId =
  (callId: string) =>
  (m: SipMessage): boolean =>
    m.kind === 'response' && m.headers.get('Call-ID') === callId;

async function run(c: TortureCase): Promise<void> {
  const callId = callIdOf(c.bytes);
  const from = peer.messages.length;
  const from5050 = peer5050.messages.length;
  const before = stats();
  peer.send(c.bytes, srv.sipPort);
  const expected = c.expected;
  if ('status' in expected) {
    const target = expected.port === 5050 ? peer5050 : peer;
    const isFinal = (m: SipMessage): boolean =>
      withCallId(callId)(m) && m.kind === 'response' && m.status >= 200;
    const res = await target.next(isFinal, 3000, expected.port === 5050 ? from5050 : from);
    expect(res.kind === 'response' ? res.status : 0, `${c.name}: ${c.rfc}`).toBe(expected.status);
    if (c.ackUri !== undefined) peer.send(ackFor(res, c.ackUri), srv.sipPort);
    return;
  }
  const got = [...(await settle(peer, from)), ...peer5050.messages.slice(from5050)];
  expect(got.filter(withCallId(callId)), `${c.name}: nothing goes back`).toEqual([]);
  const after = stats();
  if (expected.silent === 'parsed') {
    // Parsed as a well-formed response; it matched no transaction, so nothing happened.
    expect(after.parsed).toBeGreaterThan(before.parsed);
    expect(after.unparseableDropped).toBe(before.unparseableDropped);
  } else {
    expect(after.unparseableDropped + after.invalidDropped).toBeGreaterThan(
      before.unparseableDropped + before.invalidDropped,
    );
  }
}

describe('RFC 4475 torture messages (production server, UDP)', () => {
  it('has the 13 valid and 19 invalid messages of §3.1.1 and §3.1.2', () => {
    expect(VALID).toHaveLength(13);
    expect(INVALID).toHaveLength(19);
    expect(new Set([...VALID, ...INVALID].map((c) => callIdOf(c.bytes))).size).toBe(32);
    // The fixtures are faithful: Content-Length counts the body, except where the RFC breaks it on purpose.
    for (const c of [...VALID, ...INVALID]) {
      if (['clerr', 'ncl', 'dblreq'].includes(c.name)) continue;
      const text = c.bytes.toString('latin1');
      const length = /^(?:Content-Length|l)\s*:\s*(\d+)\s*$/im.exec(text)?.[1];
      const split = text.indexOf('\r\n\r\n');
      expect(c.bytes.length - split - 4, c.name).toBe(Number(length));
    }
  });

  describe('§3.1.1 valid messages are parsed and answered', () => {
    it.each(VALID.map((c) => [`${c.section} ${c.name}`, c] as const))('%s', async (_title, c) => {
      await run(c);
      if ('status' in c.expected) expect(c.expected.status).not.toBe(400);
    });

    it('3.1.1.8 dblreq: the INVITE octets after the REGISTER get no answer', async () => {
      const got = await settle(peer, 0);
      expect(got.filter(withCallId('dblreq.0ha0isnda977644900765@192.0.2.15'))).toEqual([]);
    });
  });

  describe('§3.1.2 invalid messages get 400/505 or are dropped', () => {
    it.each(INVALID.map((c) => [`${c.section} ${c.name}`, c] as const))('%s', async (_title, c) => {
      await run(c);
    });
  });

  it('still answers a plain OPTIONS after the whole set', async () => {
    const { text, callId } = request(peer);
    const from = peer.messages.length;
    peer.send(text, srv.sipPort);
    const res = await peer.next((m) => withCallId(callId)(m), 3000, from);
    expect(res.kind === 'response' && res.status).toBe(200);
  });
});
