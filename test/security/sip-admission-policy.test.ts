/**
 * Issue 11, the front-door policies without sockets or timers (fake clock): the INVITE token bucket, call
 * admission (rate → unrouted/scanner → global cap → tenant cap), the TCP connection limiter and the
 * silent-drop gate. The end-to-end tests (sip-flood, sip-tcp, sip-scan) show the same against the server.
 */
import { describe, expect, it } from 'vitest';
import { CallAdmission, type AdmissionCandidate } from '../../src/call/admission.js';
import { isScanner, silentDropGate } from '../../src/call/scanners.js';
import type { RouteResult } from '../../src/routing/router.js';
import { ConnectionLimiter, resolveTcpLimits } from '../../src/sip/embedded/conn-limits.js';

function invite(address: string, userAgent?: string): AdmissionCandidate {
  return {
    source: { address, port: 5060, transport: 'udp' },
    header: (name) => (name.toLowerCase() === 'user-agent' ? userAgent : undefined),
  };
}

const routedTo = (tenant: string): RouteResult => ({
  ok: true,
  tenant,
  profile: {} as never,
  file: `${tenant}.yaml`,
});

describe('CallAdmission', () => {
  function admission(over: Partial<ConstructorParameters<typeof CallAdmission>[0]> = {}) {
    const live: { tenant: string }[] = [];
    const refused: string[] = [];
    const a = new CallAdmission({
      inviteRatePerS: 1000,
      inviteBurst: 1000,
      maxCalls: 3,
      tenantLimit: (t) => (t === 'small' ? 1 : undefined),
      liveCalls: () => live,
      onRefused: (r) => refused.push(r.cause),
      clock: () => 0,
      ...over,
    });
    return { a, live, refused };
  }

  it('counts pending INVITEs toward the global cap and answers 503 + Retry-After beyond it', () => {
    const { a, live } = admission();
    const calls = [invite('10.0.0.1'), invite('10.0.0.2'), invite('10.0.0.3')];
    for (const c of calls) expect(a.admit(c, routedTo('big'))).toBeUndefined();
    const over = a.admit(invite('10.0.0.4'), routedTo('big'));
    expect(over).toMatchObject({ status: 503, cause: 'max-calls', headers: { 'Retry-After': '5' } });
    // One INVITE settles into an established call: still counted (live), so still full.
    a.settled(calls[0]!);
    live.push({ tenant: 'big' });
    expect(a.admit(invite('10.0.0.4'), routedTo('big'))?.status).toBe(503);
    // Another settles without a call (rejected, cancelled, Timer H): a place is free again.
    a.settled(calls[1]!);
    expect(a.admit(invite('10.0.0.4'), routedTo('big'))).toBeUndefined();
  });

  it("answers 486 + Retry-After at the tenant's cap without touching other tenants", () => {
    const { a } = admission({ maxCalls: 100 });
    expect(a.admit(invite('10.0.0.1'), routedTo('small'))).toBeUndefined();
    expect(a.admit(invite('10.0.0.2'), routedTo('small'))).toMatchObject({
      status: 486,
      cause: 'tenant-calls',
      headers: { 'Retry-After': '5' },
    });
    expect(a.admit(invite('10.0.0.3'), routedTo('big'))).toBeUndefined();
  });

  it('rate-limits per source with 503 + Retry-After before anything else is looked at', () => {
    const { a, refused } = admission({ inviteRatePerS: 1, inviteBurst: 2, maxCalls: 100 });
    const unrouted: RouteResult = { ok: false, status: 404, reason: 'Not Found' };
    expect(a.admit(invite('10.6.6.6'), unrouted)?.status).toBe(404);
    expect(a.admit(invite('10.6.6.6'), routedTo('big'))).toBeUndefined();
    expect(a.admit(invite('10.6.6.6'), routedTo('big'))).toMatchObject({
      status: 503,
      headers: { 'Retry-After': '1' },
    });
    expect(a.admit(invite('10.0.0.2'), routedTo('big'))).toBeUndefined();
    expect(refused).toEqual(['unrouted', 'rate']);
    // A scanner is told 404 even past its rate: a 503 would set those extensions apart in svwar's results.
    expect(a.admit(invite('10.6.6.6', 'friendly-scanner'), routedTo('big'))?.status).toBe(404);
  });

  it('gives an allow_from refusal, an unknown number and a scanner the same 404 (no enumeration)', () => {
    const { a } = admission({ maxCalls: 100 });
    const forbidden = a.admit(invite('10.0.0.1'), { ok: false, status: 403, reason: 'Forbidden' });
    const unknown = a.admit(invite('10.0.0.1'), { ok: false, status: 404, reason: 'Not Found' });
    const scanner = a.admit(invite('10.0.0.1', 'friendly-scanner'), routedTo('big'));
    for (const r of [forbidden, unknown, scanner])
      expect(r).toMatchObject({ status: 404, reason: 'Not Found' });
    expect(forbidden?.headers).toBeUndefined();
    expect(a.pendingCount).toBe(0);
  });
});

describe('ConnectionLimiter (TCP)', () => {
  it('caps each source below the global cap, and frees places on release', () => {
    const limiter = new ConnectionLimiter(resolveTcpLimits({ maxPerSource: 2, maxConnections: 3 }));
    expect([limiter.admit('a'), limiter.admit('a'), limiter.admit('a')]).toEqual([
      undefined,
      undefined,
      'per-source',
    ]);
    expect(limiter.admit('b')).toBeUndefined();
    expect(limiter.admit('c')).toBe('global');
    limiter.release('a');
    expect(limiter.admit('c')).toBeUndefined();
    expect(limiter.connections).toBe(3);
  });

  it('reaps a message unfinished past the header deadline, and an idle connection only without a dialog', () => {
    const limiter = new ConnectionLimiter(resolveTcpLimits({ headerTimeoutMs: 1000, idleMs: 5000 }));
    expect(limiter.reapReason({ partialSinceMs: 0, lastMessageMs: 0 }, 1001, true)).toBe('header-timeout');
    expect(limiter.reapReason({ partialSinceMs: 500, lastMessageMs: 0 }, 1001, false)).toBeUndefined();
    expect(limiter.reapReason({ partialSinceMs: undefined, lastMessageMs: 0 }, 5001, false)).toBe('idle');
    expect(limiter.reapReason({ partialSinceMs: undefined, lastMessageMs: 0 }, 5001, true)).toBeUndefined();
  });

  it('never lets the per-source cap exceed the global one', () => {
    expect(resolveTcpLimits({ maxPerSource: 50, maxConnections: 10 }).maxConnections).toBe(50);
  });
});

describe('silent-drop gate and scanner detection', () => {
  const base = { requestUser: '100', toUser: '100', inDialog: false, sourceAddress: '10.0.0.1' };
  const gate = silentDropGate((user) => user === '100');

  it('recognises the sipvicious family and common war-dialers by User-Agent', () => {
    for (const ua of ['friendly-scanner', 'sipvicious 0.3', 'sipcli/v1.8', 'VaxSIPUserAgent/3.1'])
      expect(isScanner(ua)).toBe(true);
    for (const ua of [undefined, 'Linphone/5.2', 'baresip v1.0', 'sipp']) expect(isScanner(ua)).toBe(false);
  });

  it('drops scanners and unrouted INVITEs, passes routed INVITEs, other methods and in-dialog requests', () => {
    expect(gate({ ...base, method: 'INVITE', userAgent: 'Linphone' })).toBe(true);
    expect(
      gate({ ...base, method: 'INVITE', userAgent: 'Linphone', toUser: '999', requestUser: '999' }),
    ).toBe(false);
    expect(gate({ ...base, method: 'OPTIONS', userAgent: 'friendly-scanner' })).toBe(false);
    expect(gate({ ...base, method: 'OPTIONS', userAgent: 'Linphone', toUser: '999' })).toBe(true);
    expect(gate({ ...base, method: 'BYE', userAgent: 'friendly-scanner', inDialog: true })).toBe(true);
  });
});
