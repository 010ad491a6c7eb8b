/**
 * The RegisterClient state machine with a fake clock and a recording fake transport (no sockets): digest
 * answers and nc counting, failure after credentials, stale nonces, 423, the granted Expires and refresh
 * time, bounded jittered backoff, re-registration from scratch after a failed refresh or a lost keep-alive,
 * unregister with Expires: 0. The real-registrar behaviour is covered by test/sip/register/.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.js';
import { digestResponse } from '../../../src/sip/digest-hash.js';
import type { RequestCallbacks } from '../../../src/sip/embedded/endpoint.js';
import { SipHeaders, type SipRequest, type SipResponse } from '../../../src/sip/embedded/message.js';
import {
  BACKOFF_MAX_MS,
  RegisterClient,
  backoffDelayMs,
  refreshDelayMs,
} from '../../../src/sip/embedded/register-client.js';
import { parseDigestParams } from '../../../src/sip/digest-hash.js';
import type { RegistrationStatus } from '../../../src/sip/registration.js';
import { FakeScheduler } from './fake-scheduler.js';

const CONTACT = 'sip:sb-abc123@192.0.2.10:5070;transport=udp';
const INSTANCE = 'urn:uuid:00000000-0000-4000-8000-000000000001';
const PASSWORD = 'unit-secret-pw';

function setup(options: { transport?: 'udp' | 'tcp' | 'tls'; keepAliveS?: number; random?: number } = {}) {
  const scheduler = new FakeScheduler();
  const sent: Array<{ request: SipRequest; callbacks: RequestCallbacks }> = [];
  const pings: Array<(ok: boolean) => void> = [];
  const statuses: RegistrationStatus[] = [];
  let tag = 0;
  const client = new RegisterClient(
    {
      aor: 'sip:1001@pbx.example',
      registrar: 'sip:pbx.example:5060',
      username: '1001',
      password: PASSWORD,
      expiresS: 600,
      transport: options.transport ?? 'udp',
      contactUser: 'sb-abc123',
      instanceId: INSTANCE,
      keepAliveS: options.keepAliveS ?? 0,
    },
    {
      scheduler,
      logger: createLogger({ level: 'silent' }),
      now: () => 1_000_000 + scheduler.nowMs,
      random: () => options.random ?? 0.5,
      contactUri: CONTACT,
      callId: 'reg-call-id@192.0.2.10',
      newTag: () => `tag${++tag}`,
      send: (request, callbacks) => sent.push({ request, callbacks }),
      ping: () => new Promise<boolean>((resolve) => pings.push(resolve)),
    },
  );
  client.on('status', (s) => statuses.push(s));
  const last = (): { request: SipRequest; callbacks: RequestCallbacks } => {
    const l = sent.at(-1);
    if (l === undefined) throw new Error('nothing sent');
    return l;
  };
  const respond = (status: number, headers: Record<string, string> = {}, reason = 'Reason'): void => {
    const h = new SipHeaders();
    h.append('CSeq', last().request.headers.get('CSeq') ?? '');
    for (const [k, v] of Object.entries(headers)) h.append(k, v);
    const res: SipResponse = { kind: 'response', status, reason, headers: h, body: Buffer.alloc(0) };
    last().callbacks.onResponse(res);
  };
  return { scheduler, sent, pings, statuses, client, last, respond };
}

const challenge = (nonce: string, extra = ''): Record<string, string> => ({
  'WWW-Authenticate': `Digest realm="pbx.example", nonce="${nonce}", qop="auth", algorithm=SHA-256${extra}`,
});

const ok = (expires: number, extra = ''): Record<string, string> => ({
  Contact: `<${CONTACT}>;expires=${expires};+sip.instance="<${INSTANCE}>"${extra}`,
});

describe('RegisterClient', () => {
  it('answers a SHA-256 challenge with qop=auth, counts nc on refreshes, honours the granted Expires', () => {
    const t = setup();
    t.client.start();
    const first = t.last().request;
    expect(first.method).toBe('REGISTER');
    expect(first.headers.get('Expires')).toBe('600');
    expect(first.headers.get('Contact')).toBe(
      `<${CONTACT}>;reg-id=1;+sip.instance="<${INSTANCE}>";expires=600`,
    );
    expect(first.headers.has('Authorization')).toBe(false);
    t.respond(401, challenge('n1'), 'Unauthorized');
    const second = t.last().request;
    const auth = parseDigestParams(second.headers.get('Authorization') ?? '')!;
    expect(auth.get('algorithm')).toBe('SHA-256');
    expect(auth.get('qop')).toBe('auth');
    expect(auth.get('nc')).toBe('00000001');
    // The response is the RFC 7616 §3.4.1 value for the password, computed independently here.
    expect(auth.get('response')).toBe(
      digestResponse(
        {
          algorithm: 'SHA-256',
          realm: 'pbx.example',
          nonce: 'n1',
          username: '1001',
          password: PASSWORD,
          method: 'REGISTER',
          uri: 'sip:pbx.example:5060',
        },
        auth.get('cnonce')!,
        '00000001',
        'auth',
      ),
    );
    expect(second.headers.get('Call-ID')).toBe(first.headers.get('Call-ID'));
    expect(second.headers.get('CSeq')).toBe('2 REGISTER');
    // The registrar grants 120 s to our contact (less than asked): refresh at max(96, 90) s.
    t.respond(200, { ...ok(120, ';pub-gruu="sip:1001@pbx.example;gr=urn:uuid:x"'), Expires: '600' });
    expect(t.client.status).toMatchObject({ state: 'registered', lastError: undefined });
    expect(t.client.status.expiresAt?.getTime()).toBe(1_000_000 + 120_000);
    expect(t.client.status.gruu).toBe('sip:1001@pbx.example;gr=urn:uuid:x');
    expect(refreshDelayMs(120)).toBe(96_000);
    t.scheduler.advance(95_999);
    expect(t.sent).toHaveLength(2);
    t.scheduler.advance(1);
    expect(t.sent).toHaveLength(3);
    const refresh = parseDigestParams(t.last().request.headers.get('Authorization') ?? '')!;
    expect(refresh.get('nonce')).toBe('n1');
    expect(refresh.get('nc')).toBe('00000002');
    expect(refresh.get('cnonce')).not.toBe(auth.get('cnonce'));
    expect(t.last().request.headers.get('CSeq')).toBe('3 REGISTER');
  });

  it('fails with the reason when fresh credentials are challenged again, and retries after a jittered backoff', () => {
    const t = setup({ random: 0 });
    t.client.start();
    t.respond(401, challenge('n1'), 'Unauthorized');
    t.respond(401, challenge('n2'), 'Unauthorized');
    expect(t.client.status).toMatchObject({
      state: 'failed',
      lastError: '401 Unauthorized after credentials',
      expiresAt: undefined,
    });
    expect(t.sent).toHaveLength(2);
    // random 0 → half the ceiling: 2.5 s after the first failure, then 5 s, 10 s … up to the cap.
    t.scheduler.advance(2_499);
    expect(t.sent).toHaveLength(2);
    t.scheduler.advance(1);
    expect(t.sent).toHaveLength(3);
    expect(t.client.status.state).toBe('registering');
    // From scratch: no cached credentials, a new From tag, the same Call-ID.
    expect(t.last().request.headers.has('Authorization')).toBe(false);
    expect(t.last().request.headers.get('From')).toContain('tag=tag2');
    expect(backoffDelayMs(2, 0)).toBe(5_000);
    expect(backoffDelayMs(2, 0.999_999)).toBeLessThanOrEqual(10_000);
    expect(backoffDelayMs(40, 0.999_999)).toBeLessThanOrEqual(BACKOFF_MAX_MS);
    expect(backoffDelayMs(40, 0)).toBe(BACKOFF_MAX_MS / 2);
  });

  it('answers a stale nonce again without failing; 403 is a failure with its status line', () => {
    const t = setup();
    t.client.start();
    t.respond(401, challenge('n1'), 'Unauthorized');
    t.respond(401, challenge('n2', ', stale=true'), 'Unauthorized');
    expect(t.client.status.state).toBe('registering');
    expect(parseDigestParams(t.last().request.headers.get('Authorization') ?? '')!.get('nonce')).toBe('n2');
    t.respond(403, {}, 'Forbidden');
    expect(t.client.status).toMatchObject({ state: 'failed', lastError: '403 Forbidden' });
  });

  it('423 Interval Too Brief: retries with Min-Expires (bounded)', () => {
    const t = setup();
    t.client.start();
    t.respond(423, { 'Min-Expires': '1800' }, 'Interval Too Brief');
    expect(t.last().request.headers.get('Expires')).toBe('1800');
    expect(t.last().request.headers.get('Contact')).toMatch(/;expires=1800$/);
    // A registrar that keeps raising it is given up on after three retries.
    t.respond(423, { 'Min-Expires': '2000' }, 'Interval Too Brief');
    t.respond(423, { 'Min-Expires': '2500' }, 'Interval Too Brief');
    expect(t.sent).toHaveLength(4);
    t.respond(423, { 'Min-Expires': '3000' }, 'Interval Too Brief');
    expect(t.client.status).toMatchObject({ state: 'failed', lastError: '423 Interval Too Brief' });
    // A 423 without a usable Min-Expires is a failure at once.
    const u = setup();
    u.client.start();
    u.respond(423, {}, 'Interval Too Brief');
    expect(u.client.status.state).toBe('failed');
  });

  it('a refresh that times out re-registers from scratch; responses to the abandoned attempt are ignored', () => {
    const t = setup({ random: 0 });
    t.client.start();
    t.respond(200, ok(600));
    t.scheduler.advance(refreshDelayMs(600));
    const stale = t.last();
    stale.callbacks.onTimeout();
    expect(t.client.status).toMatchObject({
      state: 'failed',
      lastError: '408 Request Timeout (no response)',
    });
    // A late answer to the timed-out refresh changes nothing.
    stale.callbacks.onResponse({
      kind: 'response',
      status: 200,
      reason: 'OK',
      headers: new SipHeaders().append('Contact', `<${CONTACT}>;expires=600`),
      body: Buffer.alloc(0),
    });
    expect(t.client.status.state).toBe('failed');
    t.scheduler.advance(2_500);
    t.respond(200, ok(600));
    expect(t.client.status).toMatchObject({ state: 'registered', lastError: undefined });
  });

  it('UDP keep-alive: OPTIONS to the registrar while registered; a timeout re-registers at once', () => {
    const t = setup({ keepAliveS: 25 });
    t.client.start();
    t.respond(200, ok(600));
    t.scheduler.advance(25_000);
    const options = t.last();
    expect(options.request.method).toBe('OPTIONS');
    expect(options.request.uri).toBe('sip:pbx.example:5060');
    t.respond(200, {});
    t.scheduler.advance(25_000);
    expect(t.last().request.method).toBe('OPTIONS');
    expect(t.last()).not.toBe(options);
    t.last().callbacks.onTimeout();
    expect(t.client.status).toMatchObject({ state: 'failed', lastError: 'keep-alive failed (network loss)' });
    t.scheduler.advance(0);
    expect(t.last().request.method).toBe('REGISTER');
  });

  it.each(['tcp', 'tls'] as const)(
    '%s keep-alive: CRLF pings; a failed ping re-registers',
    async (transport) => {
      const t = setup({ transport, keepAliveS: 30 });
      t.client.start();
      t.respond(200, ok(600));
      t.scheduler.advance(30_000);
      expect(t.pings).toHaveLength(1);
      t.pings[0]!(true);
      await Promise.resolve();
      t.scheduler.advance(30_000);
      expect(t.pings).toHaveLength(2);
      t.pings[1]!(false);
      await Promise.resolve();
      expect(t.client.status.state).toBe('failed');
      expect(t.sent.filter((s) => s.request.method === 'OPTIONS')).toHaveLength(0);
    },
  );

  it('unregister sends Expires: 0 (answering a challenge once) and stops every timer', async () => {
    const t = setup({ keepAliveS: 25 });
    t.client.start();
    t.respond(200, ok(600));
    const done = t.client.unregister();
    expect(t.last().request.headers.get('Expires')).toBe('0');
    expect(t.last().request.headers.get('Contact')).toMatch(/;expires=0$/);
    t.respond(401, challenge('n9'), 'Unauthorized');
    expect(t.last().request.headers.get('Authorization')).toContain('nonce="n9"');
    t.respond(200, {});
    await done;
    expect(t.client.status.state).toBe('unregistered');
    const count = t.sent.length;
    t.scheduler.advance(3_600_000);
    expect(t.sent).toHaveLength(count);
    expect(t.scheduler.pending).toBe(0);
  });
});
