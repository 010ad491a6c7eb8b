/**
 * Scaffolding for the RFC suites: the production server (`startTestServer`, echo agent on number 100 only, so
 * every other Request-URI user is 404) and raw UDP peers on their own random 127/8 address.
 */
import { randomBytes } from 'node:crypto';
import type { SipMessage } from '../../../src/sip/embedded/message.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { RawUdpPeer, randomLoopback } from '../embedded/helpers.js';

export const ECHO_DIALPLAN = {
  'rfc.yaml': 'tenant: rfc\nnumbers: ["100"]\nagent: { provider: echo }\n',
};

export async function startRfcServer(env: Readonly<Record<string, string>> = {}): Promise<TestServer> {
  return await startTestServer({ dialplans: ECHO_DIALPLAN, logLevel: 'info', env });
}

/** A peer on a fresh loopback address; `port` 5060 lets responses routed by a port-less Via reach it. */
export async function openPeer(port = 0): Promise<RawUdpPeer> {
  // A random address may (rarely) be taken on that port by another test: try a few.
  for (let attempt = 0; ; attempt++) {
    try {
      return await RawUdpPeer.open(randomLoopback(), port);
    } catch (err) {
      if (attempt >= 4) throw err;
    }
  }
}

export function token(): string {
  return randomBytes(6).toString('hex');
}

/** Every message the peer received after index `from`, once `quietMs` passed with nothing new. */
export async function settle(peer: RawUdpPeer, from: number, quietMs = 400): Promise<SipMessage[]> {
  let seen = peer.messages.length;
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, quietMs));
    if (peer.messages.length === seen) break;
    seen = peer.messages.length;
  }
  return peer.messages.slice(from);
}

export interface RequestParts {
  readonly method?: string;
  readonly uri?: string;
  readonly version?: string;
  /** Header lines to add (each without CRLF). */
  readonly extra?: readonly string[];
  /** Header names to leave out of the defaults. */
  readonly omit?: readonly string[];
  readonly cseqMethod?: string;
  readonly body?: string;
}

/** An out-of-dialog request from `peer` (its own Via with rport, fresh Call-ID and branch). */
export function request(peer: RawUdpPeer, parts: RequestParts = {}): { text: string; callId: string } {
  const method = parts.method ?? 'OPTIONS';
  const callId = `rfc-${token()}`;
  const body = parts.body ?? '';
  const defaults: Array<[string, string]> = [
    ['Via', `SIP/2.0/UDP ${peer.address}:${peer.port};branch=z9hG4bK${token()};rport`],
    ['Max-Forwards', '70'],
    ['From', `<sip:caller@${peer.address}>;tag=${token()}`],
    ['To', /^sips?:[^<>\s]+$/.test(parts.uri ?? '') ? `<${parts.uri ?? ''}>` : '<sip:100@127.0.0.1>'],
    ['Call-ID', callId],
    ['CSeq', `1 ${parts.cseqMethod ?? method}`],
    ['Contact', `<sip:caller@${peer.address}:${peer.port}>`],
  ];
  const lines = [`${method} ${parts.uri ?? 'sip:100@127.0.0.1'} SIP/${parts.version ?? '2.0'}`];
  for (const [name, value] of defaults)
    if (!(parts.omit ?? []).includes(name)) lines.push(`${name}: ${value}`);
  lines.push(...(parts.extra ?? []));
  if (body !== '') lines.push('Content-Type: application/sdp');
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
  return { text: lines.join('\r\n'), callId };
}

export function sdpOffer(address: string, port: number): string {
  return [
    'v=0',
    `o=- 1 1 IN IP4 ${address}`,
    's=-',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    '',
  ].join('\r\n');
}

/** §17.1.1.3: the ACK for a non-2xx final response to an INVITE (same branch; To from the response). */
export function ackFor(response: SipMessage, requestUri: string): string {
  const h = response.headers;
  const seq = (h.get('CSeq') ?? '1').trim().split(/\s+/)[0] ?? '1';
  return [
    `ACK ${requestUri} SIP/2.0`,
    `Via: ${h.get('Via') ?? ''}`,
    'Max-Forwards: 70',
    `From: ${h.get('From') ?? ''}`,
    `To: ${h.get('To') ?? ''}`,
    `Call-ID: ${h.get('Call-ID') ?? ''}`,
    `CSeq: ${seq} ACK`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}
