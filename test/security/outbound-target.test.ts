/** Issue 11: the grammar and policy behind POST /v1/calls, without sockets. */
import { describe, expect, it } from 'vitest';
import {
  checkOutbound,
  dialFromSchema,
  dialToSchema,
  OutboundError,
  outboundAllowed,
  parseSipUri,
  requestUriFor,
} from '../../src/call/outbound-target.js';
import { OutboundLimiter } from '../../src/routing/outbound-limits.js';

const base = { publicHost: '198.51.100.7', policy: { allow: ['+1555*', '4930123'] } };

describe('parseSipUri', () => {
  it.each([
    'sip:bot@127.0.0.2:5060',
    'sips:+15550100@pbx.example.com;transport=tls',
    'sip:[2001:db8::1]:5080;user=phone',
    'sip:trunk.example.com',
  ])('accepts %s', (uri) => expect(parseSipUri(uri)).toBeDefined());

  it.each([
    'sip:bot@host\r\nX: y',
    'sip:bot@host?Subject=hi',
    'sip:bot@host;maddr=10.0.0.1',
    'sip:bot@host;lr;transport=udp',
    'sip:bot:secret@host',
    'sip:a%0d%0a@host',
    'sip:bot@ho st',
    'sip:bot@host:0',
    'sip:bot@host:70000',
    'sip:bot@[not-v6]',
    'sip:bot@host>;x=<sip:a@b',
    'sip:bot@host;transport=udp;transport=tcp',
    'sip:bot@host;constructor=1',
    `sip:${'a'.repeat(300)}@host`,
    'tel:+15550100',
  ])('refuses %j', (uri) => expect(parseSipUri(uri)).toBeUndefined());
});

describe('dial schemas', () => {
  it('puts the control-character issue first', () => {
    const r = dialToSchema.safeParse('+15550100\r\nX: 1');
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/CR, LF/);
    expect(dialFromSchema.safeParse('alice\n').success).toBe(false);
  });

  it('accepts numbers with separators and user names as from', () => {
    expect(dialToSchema.safeParse('+1 (555) 010-0199').success).toBe(true);
    expect(dialFromSchema.safeParse('+15550100').success).toBe(true);
    expect(dialFromSchema.safeParse('alice.smith').success).toBe(true);
    expect(dialFromSchema.safeParse('alice@evil').success).toBe(false);
    expect(dialToSchema.safeParse('1234567890123456').success).toBe(false); // > 15 digits (E.164)
  });
});

describe('checkOutbound', () => {
  it('turns a from number into an address at the public host', () => {
    const r = checkOutbound({ ...base, to: '+15550199', from: '+15550100', trusted: false });
    expect(r).toEqual({
      destination: { kind: 'number', number: '+15550199' },
      fromUri: 'sip:+15550100@198.51.100.7',
    });
    expect(
      checkOutbound({ ...base, publicHost: '::1', to: '4930123', from: 'bob', trusted: false }).fromUri,
    ).toBe('sip:bob@[::1]');
  });

  it('gives tenants 403 for full URIs and unpermitted numbers; the admin token may do both', () => {
    const refusals = [
      { to: 'sip:bot@127.0.0.2:5060' },
      { to: '+4930123999' },
      { to: '+15550199', from: 'sip:ceo@bank.example' },
    ];
    for (const r of refusals) {
      let err: unknown;
      try {
        checkOutbound({ ...base, ...r, trusted: false });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(r)).toBeInstanceOf(OutboundError);
      expect((err as OutboundError).status).toBe(403);
      expect(() => checkOutbound({ ...base, ...r, trusted: true })).not.toThrow();
    }
  });

  it('matches allow patterns on digits, with or without "+"', () => {
    expect(outboundAllowed(['+1555*'], '15550100')).toBe(true);
    expect(outboundAllowed(['1555*'], '15550100')).toBe(true);
    expect(outboundAllowed(['+1555*'], '1556')).toBe(false);
    expect(outboundAllowed(['4930123'], '49301234')).toBe(false);
    expect(outboundAllowed(['*'], '1')).toBe(true);
    expect(outboundAllowed([], '15550100')).toBe(false);
  });
});

describe('requestUriFor', () => {
  it('puts the number on the trunk host, keeping port and transport', () => {
    expect(
      requestUriFor({ kind: 'number', number: '+15550199' }, 'sip:gw@trunk.example.com:5080;transport=tcp'),
    ).toBe('sip:+15550199@trunk.example.com:5080;transport=tcp');
    expect(() => requestUriFor({ kind: 'number', number: '1' }, undefined)).toThrow(/sip-trunk/);
    expect(() => requestUriFor({ kind: 'number', number: '1' }, 'sip:x@h?Route=evil')).toThrow(/usable/);
  });
});

describe('OutboundLimiter', () => {
  it('refills calls_per_minute over time and enforces concurrency without consuming tokens', () => {
    let now = 0;
    const limiter = new OutboundLimiter({ now: () => now });
    const policy = { calls_per_minute: 2, max_concurrent_calls: 1 };
    expect(limiter.take('t', policy, 0)).toBeUndefined();
    expect(limiter.take('t', policy, 1)).toBe('concurrency');
    expect(limiter.take('t', policy, 0)).toBeUndefined();
    expect(limiter.take('t', policy, 0)).toBe('rate');
    expect(limiter.take('other', policy, 0)).toBeUndefined();
    now += 30_000; // half a minute: one call's worth
    expect(limiter.take('t', policy, 0)).toBeUndefined();
    expect(limiter.take('t', policy, 0)).toBe('rate');
  });
});
