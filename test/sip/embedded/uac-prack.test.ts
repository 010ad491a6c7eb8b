/**
 * RFC 3262 §4 UAC rules (uac-prack.ts) with a recording endpoint: one PRACK per reliable provisional, in RSeq
 * order per early dialog, none for retransmissions, out-of-order or unreliable responses; the PRACK's
 * Request-URI, Route, To, CSeq and RAck. The wire behaviour against a real UAS is
 * test/sip/prack/outbound-early-media.test.ts (sipp).
 */
import { describe, expect, it } from 'vitest';
import type { SipEndpoint } from '../../../src/sip/embedded/endpoint.js';
import { SipHeaders, type SipRequest, type SipResponse } from '../../../src/sip/embedded/message.js';
import { UacPrack, inviteOptionHeaders } from '../../../src/sip/embedded/uac-prack.js';
import { logger } from './helpers.js';

const invite: SipRequest = {
  kind: 'request',
  method: 'INVITE',
  uri: 'sip:callee@127.0.0.141:54100',
  headers: new SipHeaders()
    .append('From', '<sip:switchboard@127.0.0.1>;tag=ours')
    .append('To', '<sip:callee@127.0.0.141:54100>')
    .append('Call-ID', 'c1@127.0.0.1')
    .append('CSeq', '3 INVITE'),
  body: Buffer.alloc(0),
};

function provisional(
  status: number,
  extra: Record<string, string>,
  toTag = 'theirs',
  recordRoute: string[] = [],
): SipResponse {
  const headers = new SipHeaders()
    .append('To', `<sip:callee@127.0.0.141:54100>;tag=${toTag}`)
    .append('Contact', '<sip:callee@127.0.0.142:5070>');
  for (const rr of recordRoute) headers.append('Record-Route', rr);
  for (const [k, v] of Object.entries(extra)) headers.append(k, v);
  return { kind: 'response', status, reason: 'x', headers, body: Buffer.alloc(0) };
}

function setup(): { sent: SipRequest[]; prack: UacPrack } {
  const sent: SipRequest[] = [];
  const endpoint = { sendRequest: (req: SipRequest) => sent.push(req) } as unknown as SipEndpoint;
  const prack = new UacPrack({
    endpoint,
    target: () => ({ transport: 'udp', address: '127.0.0.141', port: 54100 }),
    logger,
  });
  return { sent, prack };
}

const reliable = (rseq: number): Record<string, string> => ({ Require: '100rel', RSeq: String(rseq) });

describe('UacPrack (RFC 3262 §4)', () => {
  it('offers 100rel by policy: supported, required, off', () => {
    expect(inviteOptionHeaders('supported')).toEqual({ supported: 'timer, 100rel' });
    expect(inviteOptionHeaders('required')).toEqual({ supported: 'timer, 100rel', require: '100rel' });
    expect(inviteOptionHeaders('off')).toEqual({ supported: 'timer' });
  });

  it('PRACKs a reliable provisional in its early dialog: Contact as Request-URI, Route, RAck, next CSeq', () => {
    const { sent, prack } = setup();
    const res = provisional(183, reliable(7), 'theirs', ['<sip:p2;lr>', '<sip:p1;lr>']);
    expect(prack.onProvisional(invite, 3, res)).toBe('pracked');
    expect(sent).toHaveLength(1);
    const p = sent[0]!;
    expect(p.method).toBe('PRACK');
    expect(p.uri).toBe('sip:callee@127.0.0.142:5070');
    expect(p.headers.getAll('Route')).toEqual(['<sip:p1;lr>', '<sip:p2;lr>']);
    expect(p.headers.get('To')).toBe('<sip:callee@127.0.0.141:54100>;tag=theirs');
    expect(p.headers.get('From')).toBe('<sip:switchboard@127.0.0.1>;tag=ours');
    expect(p.headers.get('CSeq')).toBe('4 PRACK');
    expect(p.headers.get('RAck')).toBe('7 3 INVITE');
    expect(prack.lastSeq).toBe(4);
  });

  it('ignores retransmissions and out-of-order RSeqs; the next in order is PRACKed with the next CSeq', () => {
    const { sent, prack } = setup();
    expect(prack.onProvisional(invite, 3, provisional(180, reliable(7)))).toBe('pracked');
    expect(prack.onProvisional(invite, 3, provisional(180, reliable(7)))).toBe('ignored');
    expect(prack.onProvisional(invite, 3, provisional(183, reliable(9)))).toBe('ignored');
    expect(prack.onProvisional(invite, 3, provisional(183, reliable(8)))).toBe('pracked');
    expect(sent.map((r) => [r.headers.get('CSeq'), r.headers.get('RAck')])).toEqual([
      ['4 PRACK', '7 3 INVITE'],
      ['5 PRACK', '8 3 INVITE'],
    ]);
  });

  it('keeps RSeq order per early dialog (forking: another To tag starts its own)', () => {
    const { sent, prack } = setup();
    expect(prack.onProvisional(invite, 3, provisional(180, reliable(7), 'a'))).toBe('pracked');
    expect(prack.onProvisional(invite, 3, provisional(180, reliable(100), 'b'))).toBe('pracked');
    expect(sent.map((r) => r.headers.get('To'))).toEqual([
      '<sip:callee@127.0.0.141:54100>;tag=a',
      '<sip:callee@127.0.0.141:54100>;tag=b',
    ]);
  });

  it('sends nothing for unreliable provisionals, a bad RSeq, or no To tag', () => {
    const { sent, prack } = setup();
    expect(prack.onProvisional(invite, 3, provisional(180, {}))).toBe('unreliable');
    expect(prack.onProvisional(invite, 3, provisional(180, { RSeq: '5' }))).toBe('unreliable');
    expect(prack.onProvisional(invite, 3, provisional(180, { Require: '100rel', RSeq: 'x' }))).toBe(
      'unreliable',
    );
    const untagged = provisional(180, reliable(5));
    untagged.headers.set('To', '<sip:callee@127.0.0.141:54100>');
    expect(prack.onProvisional(invite, 3, untagged)).toBe('ignored');
    expect(sent).toHaveLength(0);
  });
});
