/**
 * SDES (RFC 4568) a=crypto parsing and the answer policy, through negotiateAnswer as the call path uses it:
 * strongest offered suite chosen, our own fresh key answered under the offer's tag, refusals with reasons
 * (MKI, lifetime, several keys, session parameters, bad key sizes), and the off/optional/required matrix.
 */
import { describe, expect, it } from 'vitest';
import { negotiateAnswer, parseAnswer } from '../../src/sip/sdp.js';
import {
  answeredCrypto,
  offerCrypto,
  parseCryptoLine,
  SdesAnswerer,
  WARNING_SRTP_KEYS,
  WARNING_SRTP_OFF,
  WARNING_SRTP_REQUIRED,
  type SrtpPolicy,
} from '../../src/sip/sdp-crypto.js';
import { createOffer } from '../../src/sip/sdp.js';

const KEY30 = Buffer.alloc(30, 7).toString('base64');
const KEY28 = Buffer.alloc(28, 9).toString('base64');

function offer(protocol: string, cryptoLines: string[]): string {
  return [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.9',
    's=-',
    'c=IN IP4 127.0.0.9',
    't=0 0',
    `m=audio 40000 ${protocol} 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    ...cryptoLines,
    '',
  ].join('\r\n');
}

const answer = (sdp: string, policy: SrtpPolicy) =>
  negotiateAnswer(sdp, { address: '127.0.0.1', port: 30000, security: new SdesAnswerer(policy) });

describe('a=crypto parsing', () => {
  const line = (suite: string, config: string, sessionConfig?: string) => ({
    id: 1,
    suite,
    config,
    ...(sessionConfig === undefined ? {} : { sessionConfig }),
  });

  it('reads key, salt and lifetime', () => {
    const p = parseCryptoLine(line('AES_CM_128_HMAC_SHA1_80', `inline:${KEY30}|2^31`, 'KDR=0'));
    expect(p.ok && p.key.key.length === 16 && p.key.salt.length === 14 && p.key.lifetimePackets).toBe(
      2 ** 31,
    );
    const g = parseCryptoLine(line('AEAD_AES_128_GCM', `inline:${KEY28}`));
    expect(g.ok && g.key.salt.length).toBe(12);
  });

  it.each([
    ['AES_CM_128_HMAC_SHA1_80', `inline:${KEY30}|2^20|1:4`, undefined, /MKI/],
    ['AES_CM_128_HMAC_SHA1_80', `inline:${KEY30}|2^10`, undefined, /lifetime below/],
    ['AES_CM_128_HMAC_SHA1_80', `inline:${KEY30};inline:${KEY30}`, undefined, /several keys/],
    ['AES_CM_128_HMAC_SHA1_80', `inline:${KEY30}`, 'UNENCRYPTED_SRTP', /session parameter/],
    ['AES_CM_128_HMAC_SHA1_80', `inline:${KEY30}`, 'KDR=24', /session parameter/],
    ['AES_CM_128_HMAC_SHA1_80', `inline:${KEY28}`, undefined, /30 octets/],
    ['AEAD_AES_128_GCM', `inline:${KEY30}`, undefined, /28 octets/],
    ['AES_256_CM_HMAC_SHA1_80', `inline:${KEY30}`, undefined, /unsupported crypto suite/],
    ['AES_CM_128_HMAC_SHA1_80', 'uri:https://example.com', undefined, /inline/],
  ])('refuses %s %s %s', (suite, config, session, reason) => {
    const p = parseCryptoLine(line(suite, config, session));
    expect(p.ok).toBe(false);
    if (!p.ok) {
      expect(p.reason).toMatch(reason);
      expect(p.reason).not.toContain(KEY30);
    }
  });
});

describe('answering under a policy', () => {
  const cryptos = [
    `a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${KEY30}`,
    `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}|2^20|1:4`,
    `a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}`,
    `a=crypto:4 AEAD_AES_128_GCM inline:${KEY28}`,
  ];

  it('picks the strongest usable suite and answers its tag with a fresh key of ours', () => {
    const a = answer(offer('RTP/SAVP', cryptos), 'optional');
    expect(a.ok).toBe(true);
    if (!a.ok) return;
    expect(a.srtp?.suite).toBe('AEAD_AES_128_GCM');
    expect(a.srtp?.tag).toBe(4);
    expect(a.srtp?.remote.key.equals(Buffer.alloc(16, 9))).toBe(true);
    expect(a.answerSdp).toMatch(/m=audio 30000 RTP\/SAVP/);
    const lines = [...a.answerSdp.matchAll(/a=crypto:(\d+) (\S+) inline:(\S+)/g)];
    expect(lines).toHaveLength(1);
    expect(lines[0]![1]).toBe('4');
    const ours = Buffer.from(lines[0]![3]!, 'base64');
    expect(ours.length).toBe(28);
    expect(Buffer.concat([a.srtp!.local.key, a.srtp!.local.salt]).equals(ours)).toBe(true);
    expect(ours.equals(Buffer.alloc(28, 9))).toBe(false);
    // Without GCM: the 80-bit tag wins over the 32-bit one, and the MKI line (tag 2) is skipped.
    const b = answer(offer('RTP/SAVP', cryptos.slice(0, 3)), 'optional');
    expect(b.ok && b.srtp?.suite).toBe('AES_CM_128_HMAC_SHA1_80');
    expect(b.ok && b.srtp?.tag).toBe(3);
  });

  it('applies the off / optional / required matrix', () => {
    const savp = offer('RTP/SAVP', cryptos.slice(2, 3));
    const plain = offer('RTP/AVP', []);
    const bestEffort = offer('RTP/AVP', cryptos.slice(2, 3));
    const r = (sdp: string, p: SrtpPolicy) => answer(sdp, p);
    expect(r(savp, 'off')).toMatchObject({ ok: false, status: 488, warning: WARNING_SRTP_OFF });
    expect(r(plain, 'off')).toMatchObject({ ok: true });
    expect(r(bestEffort, 'off').ok && (r(bestEffort, 'off') as { srtp?: unknown }).srtp).toBeFalsy();
    expect(r(savp, 'optional')).toMatchObject({ ok: true, srtp: { suite: 'AES_CM_128_HMAC_SHA1_80' } });
    expect(r(plain, 'optional')).toMatchObject({ ok: true });
    expect((r(plain, 'optional') as { answerSdp: string }).answerSdp).not.toContain('a=crypto');
    const be = r(bestEffort, 'optional');
    expect(be).toMatchObject({ ok: true, srtp: { suite: 'AES_CM_128_HMAC_SHA1_80' } });
    expect((be as { answerSdp: string }).answerSdp).toMatch(/RTP\/AVP[\s\S]*a=crypto:3/);
    expect(r(plain, 'required')).toMatchObject({ ok: false, status: 488, warning: WARNING_SRTP_REQUIRED });
    expect(r(savp, 'required')).toMatchObject({ ok: true });
    // RTP/SAVP with only unusable keys: 488, the reason names why without key material.
    const bad = r(offer('RTP/SAVP', [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}|1:4`]), 'optional');
    expect(bad).toMatchObject({ ok: false, status: 488, warning: WARNING_SRTP_KEYS });
    expect(!bad.ok && bad.detail).toMatch(/MKI/);
  });

  it('a re-offer repeating the peer key keeps our key; a new peer key gets a new one', () => {
    const first = answer(offer('RTP/SAVP', cryptos.slice(2, 3)), 'optional');
    if (!first.ok || first.srtp === undefined) throw new Error('no SRTP');
    const again = negotiateAnswer(offer('RTP/SAVP', cryptos.slice(2, 3)), {
      address: '127.0.0.1',
      port: 30000,
      security: new SdesAnswerer('required', { current: first.srtp }),
    });
    expect(again.ok && again.srtp?.local.key.equals(first.srtp.local.key)).toBe(true);
    const other = Buffer.alloc(30, 1).toString('base64');
    const rekeyed = negotiateAnswer(
      offer('RTP/SAVP', [`a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:${other}`]),
      {
        address: '127.0.0.1',
        port: 30000,
        security: new SdesAnswerer('required', { current: first.srtp }),
      },
    );
    expect(rekeyed.ok && rekeyed.srtp?.local.key.equals(first.srtp.local.key)).toBe(false);
  });
});

describe('offering', () => {
  it('offers all three suites, strongest first, and reads the answer back', () => {
    const crypto = offerCrypto();
    const sdp = createOffer(
      { address: '127.0.0.1', port: 30000 },
      { protocol: 'RTP/SAVP', crypto: crypto.lines },
    );
    expect(sdp).toMatch(/m=audio 30000 RTP\/SAVP/);
    expect([...sdp.matchAll(/a=crypto:(\d) (\S+)/g)].map((m) => `${m[1]} ${m[2]}`)).toEqual([
      '1 AEAD_AES_128_GCM',
      '2 AES_CM_128_HMAC_SHA1_80',
      '3 AES_CM_128_HMAC_SHA1_32',
    ]);
    const peer = answer(sdp, 'required');
    if (!peer.ok) throw new Error(peer.detail);
    expect(parseAnswer(sdp, peer.answerSdp).ok).toBe(true);
    const keys = answeredCrypto(crypto, peer.answerSdp);
    expect(keys.ok && keys.srtp?.suite).toBe('AEAD_AES_128_GCM');
    // What we offered under tag 1 is what the peer now receives with; the peer's key is what we receive.
    expect(keys.ok && keys.srtp?.local.key.equals(crypto.keys.get(1)!.key.key)).toBe(true);
    expect(keys.ok && keys.srtp?.remote.key.equals(peer.srtp!.local.key)).toBe(true);
    // A plain answer has no keys; a mismatched tag/suite is refused.
    expect(answeredCrypto(crypto, offer('RTP/AVP', []))).toEqual({ ok: true });
    const wrong = answeredCrypto(
      crypto,
      offer('RTP/SAVP', [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}`]),
    );
    expect(wrong.ok).toBe(false);
  });
});
