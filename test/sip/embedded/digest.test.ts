import { describe, expect, it } from 'vitest';
import {
  authorizationHeader,
  digestResponse,
  parseChallenge,
  pickChallenge,
} from '../../../src/sip/embedded/digest.js';

// RFC 7616 §3.9.1 example (Mufasa / "Circle of Life").
const base = {
  method: 'GET',
  uri: '/dir/index.html',
  username: 'Mufasa',
  password: 'Circle of Life',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  nc: 1,
};
const challengeText = (algorithm: string): string =>
  `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, ` +
  `nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`;

describe('digest (RFC 7616 §3.9.1 vectors)', () => {
  it('MD5', () => {
    const challenge = parseChallenge(challengeText('MD5'))!;
    expect(challenge.qop).toEqual(['auth', 'auth-int']);
    expect(digestResponse({ ...base, challenge }, base.cnonce, '00000001', 'auth')).toBe(
      '8ca523f5e9506fed4657c9700eebdbec',
    );
  });

  it('SHA-256', () => {
    const challenge = parseChallenge(challengeText('SHA-256'))!;
    expect(digestResponse({ ...base, challenge }, base.cnonce, '00000001', 'auth')).toBe(
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    );
    const header = authorizationHeader({ ...base, challenge });
    expect(header).toContain('response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"');
    expect(header).toContain('qop=auth, nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"');
    expect(header).toContain('opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"');
    expect(header).not.toContain('Circle of Life');
  });

  it('RFC 2617 without qop, challenge selection and bad challenges', () => {
    const challenge = parseChallenge('Digest realm="sip.example.com", nonce="abc"')!;
    expect(challenge.algorithm).toBe('MD5');
    expect(authorizationHeader({ ...base, challenge })).not.toContain('qop=');
    expect(pickChallenge([challengeText('MD5'), challengeText('SHA-256')])?.algorithm).toBe('SHA-256');
    expect(parseChallenge('Basic realm="x"')).toBeUndefined();
    expect(parseChallenge('Digest nonce="x"')).toBeUndefined();
    expect(parseChallenge('Digest realm="x", nonce="y", algorithm=SHA-512-256')).toBeUndefined();
  });
});
