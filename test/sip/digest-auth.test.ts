import { describe, expect, it } from 'vitest';
import { InboundAuthenticator, type AuthCall } from '../../src/call/inbound-auth.js';
import { createLogger } from '../../src/observability/logger.js';
import { dialplanSchema } from '../../src/routing/dialplan.js';
import {
  NonceSigner,
  challengeHeader,
  parseAuthorization,
  verifyAuthorization,
} from '../../src/sip/digest-auth.js';
import { digestResponse } from '../../src/sip/digest-hash.js';
import { authorizationHeader, parseChallenge } from '../../src/sip/embedded/digest.js';
import type { CredentialRecord } from '../../src/tenants/store.js';

// RFC 2617 §3.5: the example exchange (user "Mufasa", password "Circle Of Life", GET /dir/index.html).
const RFC2617_AUTHORIZATION =
  'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
  'uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", ' +
  'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"';
const MUFASA = { method: 'GET', username: 'Mufasa', password: 'Circle Of Life' };

describe('digest answer check (RFC 2617 §3.5 example)', () => {
  it('computes the example response and accepts the example Authorization', () => {
    expect(
      digestResponse(
        {
          algorithm: 'MD5',
          realm: 'testrealm@host.com',
          nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
          username: 'Mufasa',
          password: 'Circle Of Life',
          method: 'GET',
          uri: '/dir/index.html',
        },
        '0a4f113b',
        '00000001',
        'auth',
      ),
    ).toBe('6629fae49393a05397450978507c4ef1');
    const auth = parseAuthorization(RFC2617_AUTHORIZATION)!;
    expect(auth).toMatchObject({
      username: 'Mufasa',
      realm: 'testrealm@host.com',
      qop: 'auth',
      nc: '00000001',
    });
    expect(verifyAuthorization(auth, MUFASA)).toBe(true);
  });

  it('rejects a wrong password, username, method, or an answer without qop=auth or with another algorithm', () => {
    const auth = parseAuthorization(RFC2617_AUTHORIZATION)!;
    expect(verifyAuthorization(auth, { ...MUFASA, password: 'Circle of Life' })).toBe(false);
    expect(verifyAuthorization(auth, { ...MUFASA, username: 'mufasa' })).toBe(false);
    expect(verifyAuthorization(auth, { ...MUFASA, method: 'INVITE' })).toBe(false);
    expect(verifyAuthorization({ ...auth, qop: undefined }, MUFASA)).toBe(false);
    expect(verifyAuthorization({ ...auth, algorithm: 'SHA-256' }, MUFASA)).toBe(false);
    expect(verifyAuthorization({ ...auth, nc: '1' }, MUFASA)).toBe(false);
    expect(verifyAuthorization({ ...auth, response: 'not-hex' }, MUFASA)).toBe(false);
  });

  it('parses only complete Digest answers', () => {
    expect(parseAuthorization('Basic TXVmYXNhOkNpcmNsZSBPZiBMaWZl')).toBeUndefined();
    expect(parseAuthorization('Digest username="a", realm="r", nonce="n", uri="sip:1@h"')).toBeUndefined();
    // A comma inside a quoted value does not split it; a quoted-pair is unescaped.
    const a = parseAuthorization(
      'Digest username="a,\\"b", realm="r", nonce="n", uri="sip:1@h", response="X"',
    );
    expect(a).toMatchObject({ username: 'a,"b', response: 'x', algorithm: 'MD5' });
  });
});

describe('stateless nonces', () => {
  const secret = Buffer.alloc(32, 7);
  const binding = { realm: 'acme', sourceAddress: '192.0.2.1', callId: 'c1@x' };

  it('verify for the call they were issued to, go stale after the lifetime, and cannot be forged', () => {
    let now = 1_700_000_000_000;
    const signer = new NonceSigner({ secret, clock: () => now });
    const nonce = signer.issue(binding);
    expect(nonce).toMatch(/^[0-9a-f]{56}$/);
    expect(signer.issue(binding)).not.toBe(nonce);
    expect(signer.check(nonce, binding, 30)).toBe('valid');
    for (const other of [
      { ...binding, callId: 'c2@x' },
      { ...binding, sourceAddress: '192.0.2.2' },
      { ...binding, realm: 'acme2' },
    ])
      expect(signer.check(nonce, other, 30)).toBe('invalid');
    expect(new NonceSigner({ secret: Buffer.alloc(32, 8) }).check(nonce, binding, 30)).toBe('invalid');
    const flipped = nonce.slice(0, 3) + (nonce[3] === '0' ? '1' : '0') + nonce.slice(4);
    expect(signer.check(flipped, binding, 30)).toBe('invalid');
    expect(signer.check('dcd98b7102dd2f0e8b11d0f600bfb0c093', binding, 30)).toBe('invalid');
    now += 30_000;
    expect(signer.check(nonce, binding, 30)).toBe('valid');
    now += 1_000;
    expect(signer.check(nonce, binding, 30)).toBe('stale');
    // Dated well in the future (a forged time field would also fail the MAC): refused.
    now -= 120_000;
    expect(signer.check(nonce, binding, 30)).toBe('invalid');
  });

  it('challenge header is what our own UAC parses: MD5, qop="auth", stale only when asked', () => {
    const fresh = parseChallenge(challengeHeader('acme "x"', 'abc', false))!;
    expect(fresh).toMatchObject({
      realm: 'acme "x"',
      nonce: 'abc',
      algorithm: 'MD5',
      qop: ['auth'],
      stale: false,
    });
    expect(parseChallenge(challengeHeader('acme', 'abc', true))?.stale).toBe(true);
  });
});

describe('InboundAuthenticator', () => {
  const policy = dialplanSchema.parse({
    tenant: 'acme',
    numbers: ['100'],
    auth: { nonce_ttl_s: 10 },
    agent: { provider: 'echo' },
  }).auth!;
  const log = createLogger({ level: 'silent' });
  const cred: CredentialRecord = {
    tenant: 'acme',
    provider: 'sip-inbound',
    fields: { username: 'pbx1', password: 'correct horse battery' },
    updatedAt: '2026-01-01T00:00:00Z',
  };

  function setup(record: CredentialRecord | null = cred) {
    let now = 1_700_000_000_000;
    let reads = 0;
    const auth = new InboundAuthenticator({
      secret: Buffer.alloc(32, 1),
      clock: () => now,
      store: {
        getCredential: (tenant, provider) => {
          reads++;
          return Promise.resolve(
            tenant === 'acme' && provider === 'sip-inbound' ? (record ?? undefined) : undefined,
          );
        },
      },
    });
    const call = (authorization?: string, requestUri = 'sip:100@192.0.2.9'): AuthCall => ({
      callId: 'call-1',
      requestUri,
      source: { address: '192.0.2.1', port: 5060, transport: 'udp' },
      to: { uri: 'sip:+100@example.com', user: '+100', host: 'example.com' },
      header: (name) => (name === 'Authorization' ? authorization : undefined),
    });
    const answer = (www: string, password: string, uri = 'sip:100@192.0.2.9'): string =>
      authorizationHeader({
        challenge: parseChallenge(www)!,
        method: 'INVITE',
        uri,
        username: 'pbx1',
        password,
      });
    return { auth, call, answer, reads: () => reads, advance: (ms: number) => (now += ms) };
  }

  it('challenges, accepts the right answer, refuses a wrong one with 403', async () => {
    const t = setup();
    const first = await t.auth.check(t.call(), 'acme', policy, log);
    expect(first).toMatchObject({ status: 401, cause: 'auth-challenge' });
    const www = first!.headers!['WWW-Authenticate']!;
    expect(www).toMatch(/^Digest realm="acme", nonce="[0-9a-f]{56}", algorithm=MD5, qop="auth"$/);
    expect(t.reads()).toBe(0);
    expect(
      await t.auth.check(t.call(t.answer(www, 'correct horse battery')), 'acme', policy, log),
    ).toBeUndefined();
    const wrong = await t.auth.check(t.call(t.answer(www, 'wrong password!!')), 'acme', policy, log);
    expect(wrong).toMatchObject({ status: 403, cause: 'auth-failed' });
    // An answer computed for another number does not open this one.
    const elsewhere = t.answer(www, 'correct horse battery', 'sip:200@192.0.2.9');
    expect(await t.auth.check(t.call(elsewhere), 'acme', policy, log)).toMatchObject({ status: 403 });
    // Nor one without a number (a host-only uri).
    const hostOnly = t.answer(www, 'correct horse battery', 'sip:192.0.2.9');
    expect(await t.auth.check(t.call(hostOnly), 'acme', policy, log)).toMatchObject({ status: 403 });
    // A proxy rewrote the Request-URI's number: the To user, which the caller dialled, still matches.
    const dialled = t.answer(www, 'correct horse battery', 'sip:+100@example.com');
    expect(await t.auth.check(t.call(dialled, 'sip:100@10.0.0.5'), 'acme', policy, log)).toBeUndefined();
  });

  it('an expired nonce with the right password gets 401 stale=true; with a wrong one 403', async () => {
    const t = setup();
    const www = (await t.auth.check(t.call(), 'acme', policy, log))!.headers!['WWW-Authenticate']!;
    t.advance(11_000);
    const stale = await t.auth.check(t.call(t.answer(www, 'correct horse battery')), 'acme', policy, log);
    expect(stale).toMatchObject({ status: 401, cause: 'auth-stale' });
    expect(stale!.headers!['WWW-Authenticate']).toContain('stale=true');
    const wrong = await t.auth.check(t.call(t.answer(www, 'nope nope nope')), 'acme', policy, log);
    expect(wrong).toMatchObject({ status: 403 });
  });

  it('a forged nonce or another realm is re-challenged from the MAC alone (no credential read)', async () => {
    const t = setup();
    const forged = `Digest realm="acme", nonce="${'0'.repeat(56)}", algorithm=MD5, qop="auth"`;
    const r1 = await t.auth.check(t.call(t.answer(forged, 'correct horse battery')), 'acme', policy, log);
    expect(r1).toMatchObject({ status: 401, cause: 'auth-challenge' });
    expect(r1!.headers!['WWW-Authenticate']).not.toContain('stale');
    const www = (await t.auth.check(t.call(), 'acme', policy, log))!.headers!['WWW-Authenticate']!;
    const otherRealm = www.replace('realm="acme"', 'realm="other"');
    const r2 = await t.auth.check(t.call(t.answer(otherRealm, 'correct horse battery')), 'acme', policy, log);
    expect(r2).toMatchObject({ status: 401 });
    expect(t.reads()).toBe(0);
  });

  it('no stored credential: every answer is refused', async () => {
    const t = setup(null);
    const www = (await t.auth.check(t.call(), 'acme', policy, log))!.headers!['WWW-Authenticate']!;
    const r = await t.auth.check(t.call(t.answer(www, 'correct horse battery')), 'acme', policy, log);
    expect(r).toMatchObject({ status: 403 });
  });
});
