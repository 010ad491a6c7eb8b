/**
 * RFC 3261 §8.2 request validation on the production server (startServer, echo dialplan): raw UDP requests
 * from a peer on its own loopback address, each asserting the RFC's answer (or a silent drop).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipMessage, SipResponse } from '../../../src/sip/embedded/message.js';
import type { TestServer } from '../../support/server.js';
import type { RawUdpPeer } from '../embedded/helpers.js';
import {
  ackFor,
  openPeer,
  request,
  sdpOffer,
  settle,
  startRfcServer,
  type RequestParts,
} from './raw-server.js';

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

const finalFor =
  (callId: string) =>
  (m: SipMessage): boolean =>
    m.kind === 'response' && m.status >= 200 && m.headers.get('Call-ID') === callId;

/** Send a request and return its final response (matched by Call-ID; by count when Call-ID is missing). */
async function ask(parts: RequestParts): Promise<SipResponse> {
  const { text, callId } = request(peer, parts);
  const from = peer.messages.length;
  peer.send(text, srv.sipPort);
  const match = (parts.omit ?? []).includes('Call-ID')
    ? (m: SipMessage): boolean => m.kind === 'response' && m.status >= 200
    : finalFor(callId);
  const res = (await peer.next(match, 3000, from)) as SipResponse;
  // Stop Timer G retransmissions of a non-2xx final to an INVITE (§17.1.1.3).
  if ((parts.method ?? 'OPTIONS') === 'INVITE' && res.status >= 300) {
    peer.send(ackFor(res, parts.uri ?? 'sip:100@127.0.0.1'), srv.sipPort);
  }
  return res;
}

const toTag = (res: SipResponse): string | undefined =>
  /;\s*tag=([^;\s]+)/.exec(res.headers.get('To') ?? '')?.[1];

describe('RFC 3261 §8.2 validation (production server)', () => {
  it.each(['Call-ID', 'From', 'To', 'CSeq', 'Via'])('answers 400 when %s is missing', async (name) => {
    const res = await ask({ omit: [name] });
    expect(res.status).toBe(400);
    expect(res.reason).toContain(`Missing ${name}`);
  });

  it('answers 400 to a CSeq whose method does not match the request line', async () => {
    const res = await ask({ cseqMethod: 'INVITE' });
    expect(res.status).toBe(400);
    expect(res.reason).toMatch(/CSeq/);
  });

  it('answers 400 to a non-numeric CSeq and to a CSeq beyond 2**31', async () => {
    for (const value of ['abc OPTIONS', '4294967296 OPTIONS']) {
      const res = await ask({ omit: ['CSeq'], extra: [`CSeq: ${value}`] });
      expect(res.status, value).toBe(400);
      expect(res.reason).toMatch(/CSeq/);
    }
  });

  it('answers 400 to a malformed Max-Forwards and 483 to an INVITE with Max-Forwards 0', async () => {
    const bad = await ask({ omit: ['Max-Forwards'], extra: ['Max-Forwards: ten'] });
    expect(bad.status).toBe(400);
    expect(bad.reason).toMatch(/Max-Forwards/);
    const hops = await ask({ method: 'INVITE', omit: ['Max-Forwards'], extra: ['Max-Forwards: 0'] });
    expect(hops.status).toBe(483);
    // §16.3: OPTIONS with Max-Forwards 0 may be answered by the element itself.
    const options = await ask({ omit: ['Max-Forwards'], extra: ['Max-Forwards: 0'] });
    expect(options.status).toBe(200);
  });

  it('answers 416 to an unknown Request-URI scheme and 400 to a malformed one', async () => {
    expect((await ask({ uri: 'http://127.0.0.1/agent' })).status).toBe(416);
    expect((await ask({ method: 'INVITE', uri: 'im:agent@127.0.0.1' })).status).toBe(416);
    expect((await ask({ uri: '<sip:100@127.0.0.1>' })).status).toBe(400);
  });

  it('answers 420 with Unsupported for an unknown Require on OPTIONS and INVITE (100rel and timer are known)', async () => {
    const options = await ask({ extra: ['Require: 100rel, x-bar'] });
    expect(options.status).toBe(420);
    expect(options.headers.getAll('Unsupported')).toEqual(['x-bar']);
    const invite = await ask({
      method: 'INVITE',
      extra: ['Require: timer, x-foo'],
      body: sdpOffer(peer.address, 40000),
    });
    expect(invite.status).toBe(420);
    expect(invite.headers.getAll('Unsupported')).toEqual(['x-foo']);
    expect(toTag(invite)).toBeDefined();
  });

  it('answers 406 to an INVITE whose Accept excludes application/sdp', async () => {
    const res = await ask({
      method: 'INVITE',
      extra: ['Accept: text/plain, application/pidf+xml'],
      body: sdpOffer(peer.address, 40000),
    });
    expect(res.status).toBe(406);
    // application/* is fine: the call is routed as usual (user 999 is not in the dialplan → 404).
    const ok = await ask({
      method: 'INVITE',
      uri: 'sip:999@127.0.0.1',
      extra: ['Accept: application/*'],
      body: sdpOffer(peer.address, 40000),
    });
    expect(ok.status).toBe(404);
  });

  it('answers 405 with Allow to known methods it does not serve, 501 to unknown ones', async () => {
    for (const method of ['REGISTER', 'SUBSCRIBE', 'MESSAGE']) {
      const res = await ask({ method });
      expect(res.status, method).toBe(405);
      expect(res.headers.getAll('Allow')).toContain('INVITE');
    }
    const unknown = await ask({ method: 'FROBNICATE' });
    expect(unknown.status).toBe(501);
    expect(unknown.headers.getAll('Allow')).toContain('OPTIONS');
  });

  it('accepts an unquoted UTF-8 display name, answers 400 to separators in one (RFC 4475 §3.1.2.15)', async () => {
    const from = (name: string): string => `From: ${name} <sip:caller@${peer.address}>;tag=x1`;
    expect((await ask({ omit: ['From'], extra: [from('José Núñez')] })).status).toBe(200);
    expect((await ask({ omit: ['From'], extra: [from('"Núñez, José"')] })).status).toBe(200);
    const bad = await ask({ omit: ['From'], extra: [from('Núñez, José')] });
    expect(bad.status).toBe(400);
    expect(bad.reason).toMatch(/From/);
  });

  it('answers 505 to SIP/3.0', async () => {
    const res = await ask({ version: '3.0' });
    expect(res.status).toBe(505);
  });

  it('puts a To tag on every final response, OPTIONS 200 included', async () => {
    const options = await ask({});
    expect(options.status).toBe(200);
    expect(options.headers.get('Supported')).toMatch(/\btimer\b/);
    // RFC 3262: reliable provisionals are implemented, and PRACK is a method we serve.
    expect(options.headers.getAll('Supported').join(', ')).toMatch(/\b100rel\b/);
    expect(options.headers.getAll('Allow').join(', ')).toMatch(/\bPRACK\b/);
    const notFound = await ask({
      method: 'INVITE',
      uri: 'sip:999@127.0.0.1',
      body: sdpOffer(peer.address, 40000),
    });
    expect(notFound.status).toBe(404);
    const refused = await ask({ method: 'REGISTER' });
    const bad = await ask({ cseqMethod: 'BYE' });
    for (const res of [options, notFound, refused, bad])
      expect(toTag(res), String(res.status)).toMatch(/^\w+$/);
  });

  it('drops what is not a request at all, and an ACK it cannot match, without answering', async () => {
    await settle(peer, 0); // retransmissions of earlier answers are over
    const from = peer.messages.length;
    peer.send('HELLO THERE\r\n\r\n', srv.sipPort);
    peer.send(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a]), srv.sipPort);
    peer.send(
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKnone\r\nContent-Length: 0\r\n\r\n',
      srv.sipPort,
    );
    peer.send(request(peer, { method: 'ACK', omit: ['CSeq'], extra: ['CSeq: x ACK'] }).text, srv.sipPort);
    // The server is still there and answers the next request; nothing else came back.
    const probe = await ask({});
    expect(probe.status).toBe(200);
    const got = await settle(peer, from);
    expect(
      got.filter((m) => m.kind === 'response' && m.headers.get('Call-ID') !== probe.headers.get('Call-ID')),
    ).toEqual([]);
  });
});
