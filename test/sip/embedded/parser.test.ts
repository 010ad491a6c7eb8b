import { describe, expect, it } from 'vitest';
import { SipHeaders } from '../../../src/sip/embedded/message.js';
import { parseMessage } from '../../../src/sip/embedded/parser.js';
import { serializeMessage } from '../../../src/sip/embedded/serializer.js';
import { parseCSeq, parseNameAddr, parseUri, parseVia, splitList } from '../../../src/sip/embedded/syntax.js';
import { StreamFramer } from '../../../src/sip/embedded/framing.js';

const invite = (extra = '', body = ''): string =>
  'INVITE sip:bob@example.com SIP/2.0\r\n' +
  'v: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds, SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bKxyz;received=10.0.0.1\r\n' +
  'Max-Forwards: 70\r\n' +
  't: Bob <sip:bob@example.com>\r\n' +
  'f: "Alice, the \\"caller\\"" <sip:+15551234@example.com;user=phone>;tag=1928301774\r\n' +
  'i: a84b4c76e66710@pc33.example.com\r\n' +
  'CSeq: 314159 INVITE\r\n' +
  'm: <sip:alice@pc33.example.com;transport=tcp>, "X, Y" <sip:x@y.com>\r\n' +
  'Subject: folded\r\n  across\r\n\tlines\r\n' +
  extra +
  `l: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('parseMessage', () => {
  it('parses compact forms, folding, multi-value headers with commas in quotes', () => {
    const r = parseMessage(Buffer.from(invite()));
    expect(r.ok).toBe(true);
    if (!r.ok || r.message.kind !== 'request') throw new Error('not a request');
    const h = r.message.headers;
    expect(r.message.method).toBe('INVITE');
    expect(h.getAll('Via')).toHaveLength(2);
    expect(h.get('CALL-ID')).toBe('a84b4c76e66710@pc33.example.com');
    expect(h.get('Subject')).toBe('folded across lines');
    expect(h.getAll('Contact')).toEqual([
      '<sip:alice@pc33.example.com;transport=tcp>',
      '"X, Y" <sip:x@y.com>',
    ]);
    const from = parseNameAddr(h.get('From')!)!;
    expect(from.displayName).toBe('Alice, the "caller"');
    expect(from.params.get('tag')).toBe('1928301774');
    expect(parseUri(from.uri)).toMatchObject({ user: '+15551234', host: 'example.com' });
    const via2 = parseVia(h.getAll('Via')[1]!)!;
    expect(via2).toMatchObject({ transport: 'TCP', host: '[2001:db8::1]', port: 5070 });
    expect(via2.params.get('received')).toBe('10.0.0.1');
    expect(parseCSeq(h.get('CSeq')!)).toEqual({ seq: 314159, method: 'INVITE' });
  });

  it('counts Content-Length in bytes (UTF-8 bodies) and round-trips', () => {
    const body = 'v=0\r\ns=Grüße 📞\r\n';
    const r = parseMessage(Buffer.from(invite('Content-Type: application/sdp\r\n', body)));
    if (!r.ok) throw new Error(r.error);
    expect(r.message.body.toString('utf8')).toBe(body);
    const again = parseMessage(serializeMessage(r.message));
    if (!again.ok) throw new Error(again.error);
    expect(again.message.body.toString('utf8')).toBe(body);
    expect(again.message.headers.get('Content-Length')).toBe(String(Buffer.byteLength(body)));
  });

  it('truncates a datagram body to Content-Length and parses responses', () => {
    const r = parseMessage(Buffer.from('SIP/2.0 180 Ringing\r\nl: 2\r\n\r\nabcdef'));
    if (!r.ok || r.message.kind !== 'response') throw new Error('bad');
    expect(r.message.status).toBe(180);
    expect(r.message.body.toString()).toBe('ab');
  });

  it.each([
    ['garbage', 'hello\r\n\r\n'],
    ['no blank line', 'INVITE sip:a@b SIP/2.0\r\nVia: x'],
    ['bad header line', 'INVITE sip:a@b SIP/2.0\r\nnocolon\r\n\r\n'],
    ['bad version', 'INVITE sip:a@b SIP/3.0\r\n\r\n'],
    ['status out of range', 'SIP/2.0 999 Nope\r\n\r\n'],
    ['negative Content-Length', 'INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n'],
    ['Content-Length beyond the datagram', 'INVITE sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc'],
    ['continuation first', 'INVITE sip:a@b SIP/2.0\r\n folded\r\n\r\n'],
  ])('rejects %s without throwing', (_name, text) => {
    expect(parseMessage(Buffer.from(text)).ok).toBe(false);
  });

  it('rejects oversize messages and binary junk', () => {
    expect(parseMessage(Buffer.alloc(70_000, 65)).ok).toBe(false);
    expect(parseMessage(Buffer.from([0, 159, 146, 150, 13, 10, 13, 10])).ok).toBe(false);
  });

  it('keeps the partly parsed request for a 400 when only the body framing is wrong', () => {
    const r = parseMessage(Buffer.from('BYE sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Length: 99\r\n\r\n'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message?.headers.get('Call-ID')).toBe('x');
  });
});

describe('syntax helpers', () => {
  it('splits lists outside quotes and brackets', () => {
    expect(splitList('<sip:a@b;x=1,2>, "c, d" <sip:e@f> ,sip:g@h')).toEqual([
      '<sip:a@b;x=1,2>',
      '"c, d" <sip:e@f>',
      'sip:g@h',
    ]);
  });
  it('parses addr-spec params as header params', () => {
    const na = parseNameAddr('sip:alice@atlanta.com;tag=88sja8x')!;
    expect(na.uri).toBe('sip:alice@atlanta.com');
    expect(na.params.get('tag')).toBe('88sja8x');
  });
  it('rejects bad Via and URIs', () => {
    expect(parseVia('garbage')).toBeUndefined();
    expect(parseVia('SIP/2.0/UDP host:99999')).toBeUndefined();
    expect(parseUri('http://x')).toBeUndefined();
    expect(parseUri('sip:')).toBeUndefined();
  });
  it('header set/prepend keep order', () => {
    const h = new SipHeaders().append('Via', 'a').append('Via', 'b').prepend('v', 'top');
    expect(h.getAll('via')).toEqual(['top', 'a', 'b']);
    h.set('VIA', 'only');
    expect(h.getAll('Via')).toEqual(['only']);
  });
});

describe('StreamFramer', () => {
  const msg = (body: string): string =>
    `OPTIONS sip:a@b SIP/2.0\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  it('splits several messages per chunk and joins partial ones', () => {
    const framer = new StreamFramer(65536);
    const all = Buffer.from(`\r\n\r\n${msg('héllo')}${msg('')}${msg('xyz')}`);
    const first = framer.push(all.subarray(0, 30));
    expect(first).toEqual({ ok: true, frames: [] });
    const rest = framer.push(all.subarray(30));
    if (!rest.ok) throw new Error(rest.error);
    expect(rest.frames.map((f) => parseMessage(f, { stream: true }).ok)).toEqual([true, true, true]);
    expect(rest.frames[0]!.toString()).toContain('héllo');
    expect(framer.bufferedBytes).toBe(0);
  });
  it('fails on oversize and invalid Content-Length', () => {
    expect(new StreamFramer(100).push(Buffer.alloc(200, 65)).ok).toBe(false);
    expect(
      new StreamFramer(100).push(Buffer.from(msg('').replace('Content-Length: 0', 'Content-Length: 1000')))
        .ok,
    ).toBe(false);
    expect(new StreamFramer(100).push(Buffer.from('OPTIONS x SIP/2.0\r\nl: -3\r\n\r\n')).ok).toBe(false);
  });
});
