import { describe, expect, it } from 'vitest';
import { parse } from 'sdp-transform';
import {
  createOffer,
  negotiateAnswer,
  nextVersion,
  parseAnswer,
  WARNING_INCOMPATIBLE,
} from '../../src/sip/sdp.js';
import { crlf, local, ok } from './sdp.support.js';

/** What `sipp -sn uac` sends (sipp 3.6). */
const SIPP_UAC = crlf([
  'v=0',
  'o=user1 53655765 2353687637 IN IP4 127.0.0.2',
  's=-',
  'c=IN IP4 127.0.0.2',
  't=0 0',
  'm=audio 6000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
]);

/** baresip 1.0 with g711 only. */
const BARESIP = crlf([
  'v=0',
  'o=- 1394601327 3201779839 IN IP4 127.0.0.3',
  's=-',
  'c=IN IP4 127.0.0.3',
  't=0 0',
  'm=audio 10940 RTP/AVP 0 8 101',
  'b=AS:64',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=sendrecv',
  'a=label:1',
  'a=ssrc:1436542361 cname:a7b3a1c2',
  'a=rtcp-rsize',
  'a=ptime:20',
]);

/** A WebRTC gateway (e.g. Janus/SIP.js over RTP/AVPF) offering Opus on PT 111 first. */
const OPUS_OFFER = crlf([
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 198.51.100.7',
  's=-',
  't=0 0',
  'm=audio 50000 RTP/AVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 198.51.100.7',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=mid:0',
  'a=sendrecv',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:13 CN/8000',
  'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:126 telephone-event/8000',
]);

describe('negotiateAnswer', () => {
  it('answers the sipp uac offer with PCMU and mirrors sendrecv', () => {
    const r = ok(negotiateAnswer(SIPP_UAC, local));
    expect(r.codec).toEqual({ name: 'PCMU', payloadType: 0, clockRateHz: 8000, channels: 1, ptimeMs: 20 });
    expect(r.telephoneEvent).toBeUndefined();
    expect(r.remote).toEqual({ address: '127.0.0.2', port: 6000 });
    expect(r.direction).toBe('sendrecv');
    expect(r.hold).toBe(false);
    const a = parse(r.answerSdp);
    expect(a.origin.sessionId).toBe(1234);
    expect(a.origin.sessionVersion).toBe(1);
    expect(a.connection?.ip).toBe('203.0.113.10');
    expect(a.media).toHaveLength(1);
    expect(a.media[0]).toMatchObject({ type: 'audio', port: 40000, protocol: 'RTP/AVP' });
    expect(String(a.media[0]?.payloads)).toBe('0');
    expect(r.answerSdp).toContain('a=sendrecv\r\n');
    expect(r.answerSdp).toContain('a=ptime:20\r\n');
    expect(r.answerSdp.endsWith('\r\n')).toBe(true);
  });

  it('answers baresip with PCMU and its telephone-event PT', () => {
    const r = ok(negotiateAnswer(BARESIP, local));
    expect(r.codec.name).toBe('PCMU');
    expect(r.telephoneEvent).toEqual({ payloadType: 101, clockRateHz: 8000 });
    expect(parse(r.answerSdp).media[0]?.payloads).toBe('0 101');
    expect(r.answerSdp).toContain('a=rtpmap:101 telephone-event/8000');
    expect(r.answerSdp).toContain('a=fmtp:101 0-16');
  });

  it('follows the offer order, not ours', () => {
    const offer = BARESIP.replace('RTP/AVP 0 8 101', 'RTP/AVP 8 0 101');
    expect(ok(negotiateAnswer(offer, local)).codec.name).toBe('PCMA');
  });

  it('honours the supported list', () => {
    const r = ok(negotiateAnswer(BARESIP, { ...local, supported: ['PCMA'] }));
    expect(r.codec).toMatchObject({ name: 'PCMA', payloadType: 8 });
  });

  it('recognises static payload types without rtpmap', () => {
    const offer = crlf([
      'v=0',
      'o=- 1 1 IN IP4 10.0.0.1',
      's=-',
      'c=IN IP4 10.0.0.1',
      't=0 0',
      'm=audio 4000 RTP/AVP 18 8',
    ]);
    expect(ok(negotiateAnswer(offer, local)).codec).toMatchObject({
      name: 'PCMA',
      payloadType: 8,
      clockRateHz: 8000,
    });
  });

  it('keeps a dynamic PT as offered for a G.711 codec', () => {
    const offer = crlf([
      'v=0',
      'o=- 1 1 IN IP4 10.0.0.1',
      's=-',
      'c=IN IP4 10.0.0.1',
      't=0 0',
      'm=audio 4000 RTP/AVP 98',
      'a=rtpmap:98 pcmu/8000',
    ]);
    const r = ok(negotiateAnswer(offer, local));
    expect(r.codec).toMatchObject({ name: 'PCMU', payloadType: 98 });
    expect(r.answerSdp).toContain('a=rtpmap:98 PCMU/8000');
  });

  it('chooses Opus on dynamic PT 111 with its fmtp and the 48 kHz telephone-event', () => {
    const r = ok(negotiateAnswer(OPUS_OFFER, local));
    expect(r.codec).toEqual({
      name: 'opus',
      payloadType: 111,
      clockRateHz: 48000,
      channels: 2,
      ptimeMs: 20,
      fmtp: 'minptime=10;useinbandfec=1',
    });
    expect(r.telephoneEvent).toEqual({ payloadType: 110, clockRateHz: 48000 });
    expect(r.remote).toEqual({ address: '198.51.100.7', port: 50000 });
    expect(r.answerSdp).toContain('m=audio 40000 RTP/AVPF 111 110');
    expect(r.answerSdp).toContain('a=rtpmap:111 opus/48000/2');
    expect(r.answerSdp).toContain('a=fmtp:111 minptime=10;useinbandfec=1');
    expect(r.answerSdp).toContain('a=mid:0');
  });

  it('pairs PCMU with the 8 kHz telephone-event when Opus is not supported', () => {
    const r = ok(negotiateAnswer(OPUS_OFFER, { ...local, supported: ['PCMU', 'PCMA'] }));
    expect(r.codec).toMatchObject({ name: 'PCMU', payloadType: 0 });
    expect(r.telephoneEvent).toEqual({ payloadType: 126, clockRateHz: 8000 });
  });

  it('does not pair an 8 kHz codec with a 48 kHz telephone-event (RFC 4733 §7.1.1)', () => {
    const offer = OPUS_OFFER.replace('a=rtpmap:126 telephone-event/8000\r\n', '');
    const r = ok(negotiateAnswer(offer, { ...local, supported: ['PCMU'] }));
    expect(r.telephoneEvent).toBeUndefined();
    expect(String(parse(r.answerSdp).media[0]?.payloads)).toBe('0');
  });

  it('honours a=ptime and ignores an unusable one', () => {
    expect(ok(negotiateAnswer(BARESIP.replace('a=ptime:20', 'a=ptime:30'), local)).codec.ptimeMs).toBe(30);
    const odd = ok(negotiateAnswer(BARESIP.replace('a=ptime:20', 'a=ptime:25'), local));
    expect(odd.codec.ptimeMs).toBe(20);
    expect(odd.answerSdp).toContain('a=ptime:20');
  });

  it.each([
    ['sendonly', 'recvonly', true],
    ['recvonly', 'sendonly', true],
    ['inactive', 'inactive', true],
    ['sendrecv', 'sendrecv', false],
  ] as const)('answers a=%s with a=%s', (offered, answered, hold) => {
    const r = ok(negotiateAnswer(BARESIP.replace('a=sendrecv', `a=${offered}`), local));
    expect(r.direction).toBe(answered);
    expect(r.hold).toBe(hold);
    expect(r.answerSdp).toContain(`a=${answered}\r\n`);
  });

  it('reads a session-level direction attribute', () => {
    const offer = SIPP_UAC.replace('t=0 0\r\n', 't=0 0\r\na=sendonly\r\n');
    expect(ok(negotiateAnswer(offer, local)).direction).toBe('recvonly');
  });

  it('treats c=0.0.0.0 as an RFC 2543 hold', () => {
    const r = ok(negotiateAnswer(SIPP_UAC.replace('c=IN IP4 127.0.0.2', 'c=IN IP4 0.0.0.0'), local));
    expect(r.hold).toBe(true);
    expect(r.direction).toBe('recvonly');
    expect(r.remote.address).toBe('0.0.0.0');
  });

  it('answers one audio line and rejects video and extra audio lines with port 0, keeping their formats', () => {
    const offer = crlf([
      'v=0',
      'o=- 1 1 IN IP4 10.0.0.1',
      's=-',
      'c=IN IP4 10.0.0.1',
      't=0 0',
      'm=video 5002 RTP/AVP 96 97',
      'a=rtpmap:96 H264/90000',
      'a=rtpmap:97 VP8/90000',
      'm=audio 5000 RTP/AVP 0 101',
      'a=rtpmap:101 telephone-event/8000',
      'm=audio 5004 RTP/AVP 8',
      'm=application 5006 UDP/BFCP *',
    ]);
    const r = ok(negotiateAnswer(offer, local));
    const a = parse(r.answerSdp);
    expect(a.media.map((m) => [m.type, m.port, m.protocol, String(m.payloads)])).toEqual([
      ['video', 0, 'RTP/AVP', '96 97'],
      ['audio', 40000, 'RTP/AVP', '0 101'],
      ['audio', 0, 'RTP/AVP', '8'],
      ['application', 0, 'UDP/BFCP', '*'],
    ]);
    expect(r.remote.port).toBe(5000);
    expect(r.answerSdp).not.toContain('H264');
  });

  it('skips an audio line already rejected (port 0) and one with an unsupported profile', () => {
    const offer = crlf([
      'v=0',
      'o=- 1 1 IN IP4 10.0.0.1',
      's=-',
      'c=IN IP4 10.0.0.1',
      't=0 0',
      'm=audio 0 RTP/AVP 0',
      'm=audio 6000 RTP/SAVP 0',
      'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR',
      'm=audio 7000 RTP/AVP 8',
    ]);
    const r = ok(negotiateAnswer(offer, local));
    expect(r.codec.name).toBe('PCMA');
    expect(r.remote.port).toBe(7000);
    expect(parse(r.answerSdp).media.map((m) => m.port)).toEqual([0, 0, 40000]);
  });

  it('returns 488 with a Warning when no codec is supported (G.729 only)', () => {
    const offer = crlf([
      'v=0',
      'o=- 1 1 IN IP4 10.0.0.1',
      's=-',
      'c=IN IP4 10.0.0.1',
      't=0 0',
      'm=audio 4000 RTP/AVP 18 101',
      'a=rtpmap:18 G729/8000',
      'a=rtpmap:101 telephone-event/8000',
    ]);
    expect(negotiateAnswer(offer, local)).toMatchObject({
      ok: false,
      status: 488,
      warning: WARNING_INCOMPATIBLE,
    });
  });

  it('returns 488 for a DTLS-SRTP browser offer', () => {
    const offer = OPUS_OFFER.replace('RTP/AVPF', 'UDP/TLS/RTP/SAVPF');
    expect(negotiateAnswer(offer, local)).toMatchObject({ ok: false, status: 488 });
  });

  it('rejects a PT whose rtpmap rate does not match the codec', () => {
    const offer = SIPP_UAC.replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:0 PCMU/16000');
    expect(negotiateAnswer(offer, local)).toMatchObject({ ok: false, status: 488 });
  });

  it('uses a session-level c= line and fails without any c= line', () => {
    expect(ok(negotiateAnswer(SIPP_UAC, local)).remote.address).toBe('127.0.0.2');
    expect(negotiateAnswer(SIPP_UAC.replace('c=IN IP4 127.0.0.2\r\n', ''), local)).toMatchObject({
      ok: false,
      status: 400,
    });
  });

  it('prefers a media-level c= line over the session-level one', () => {
    const offer = SIPP_UAC.replace(
      'm=audio 6000 RTP/AVP 0\r\n',
      'm=audio 6000 RTP/AVP 0\r\nc=IN IP4 10.9.9.9\r\n',
    );
    expect(ok(negotiateAnswer(offer, local)).remote.address).toBe('10.9.9.9');
  });

  it.each([
    ['empty', ''],
    ['garbage', 'hello world'],
    ['no media', crlf(['v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=-', 'c=IN IP4 10.0.0.1', 't=0 0'])],
    ['bad port', SIPP_UAC.replace('m=audio 6000', 'm=audio 99999')],
    ['binary', '\u0000\u0001v=0\r\nm=audio x'],
  ])('never throws on malformed SDP (%s)', (_name, sdp) => {
    const r = negotiateAnswer(sdp, local);
    expect(r.ok).toBe(false);
    if (!r.ok) expect([400, 488]).toContain(r.status);
  });

  it('writes an IPv6 c= line for an IPv6 host and a random session id when none is given', () => {
    const r = ok(negotiateAnswer(SIPP_UAC, { address: '2001:db8::1', port: 40002 }));
    expect(r.answerSdp).toContain('c=IN IP6 2001:db8::1');
    expect(r.answerSdp).toMatch(/^o=switchboard \d+ 1 IN IP6 2001:db8::1\r$/m);
  });

  it('copies the offer t= line', () => {
    const r = ok(negotiateAnswer(SIPP_UAC.replace('t=0 0', 't=3034423619 0'), local));
    expect(r.answerSdp).toContain('t=3034423619 0');
  });
});

describe('nextVersion', () => {
  it('keeps the session id and increments the version for a re-INVITE answer', () => {
    const first = ok(negotiateAnswer(SIPP_UAC, local));
    const next = nextVersion(first.answerSdp);
    expect(next).toEqual({ sessionId: '1234', sessionVersion: 2 });
    const second = ok(negotiateAnswer(BARESIP.replace('a=sendrecv', 'a=sendonly'), { ...local, ...next }));
    expect(second.answerSdp).toMatch(/^o=switchboard 1234 2 IN IP4/m);
  });

  it('returns undefined without an o= line', () => {
    expect(nextVersion('v=0\r\n')).toBeUndefined();
  });
});

describe('createOffer and parseAnswer', () => {
  it('offers G.711 with telephone-event 101 and ptime', () => {
    const offer = createOffer(local, { codecs: ['PCMU', 'PCMA'], telephoneEvent: true, ptimeMs: 20 });
    const o = parse(offer);
    expect(o.media[0]).toMatchObject({
      type: 'audio',
      port: 40000,
      protocol: 'RTP/AVP',
      payloads: '0 8 101',
      ptime: 20,
    });
    expect(offer).toContain('a=rtpmap:101 telephone-event/8000');
    expect(offer).toContain('a=sendrecv');
  });

  it('offers Opus with a 48 kHz telephone-event', () => {
    const offer = createOffer(local, { codecs: ['opus', 'PCMU'] });
    expect(parse(offer).media[0]?.payloads).toBe('111 0 110 101');
    expect(offer).toContain('a=rtpmap:111 opus/48000/2');
  });

  it('round-trips: our offer answered by our own answerer', () => {
    const offer = createOffer(local, { codecs: ['PCMA', 'PCMU'] });
    const answer = ok(negotiateAnswer(offer, { address: '192.0.2.5', port: 30000, supported: ['PCMU'] }));
    const r = parseAnswer(offer, answer.answerSdp);
    expect(r).toMatchObject({
      ok: true,
      codec: { name: 'PCMU', payloadType: 0, ptimeMs: 20 },
      telephoneEvent: { payloadType: 101, clockRateHz: 8000 },
      remote: { address: '192.0.2.5', port: 30000 },
      direction: 'sendrecv',
      hold: false,
    });
  });

  it('derives our direction when we put the peer on hold', () => {
    const offer = createOffer(local, { codecs: ['PCMU'], direction: 'sendonly' });
    const answer = ok(negotiateAnswer(offer, { address: '192.0.2.5', port: 30000 }));
    expect(answer.direction).toBe('recvonly');
    expect(parseAnswer(offer, answer.answerSdp)).toMatchObject({
      ok: true,
      direction: 'sendonly',
      hold: true,
    });
  });

  it('reports a rejected stream and a codec we never offered', () => {
    const offer = createOffer(local, { codecs: ['PCMU'] });
    const rejected = crlf([
      'v=0',
      'o=- 1 1 IN IP4 10.0.0.1',
      's=-',
      'c=IN IP4 10.0.0.1',
      't=0 0',
      'm=audio 0 RTP/AVP 0',
    ]);
    expect(parseAnswer(offer, rejected)).toMatchObject({ ok: false, status: 488 });
    const wrong = rejected.replace('m=audio 0 RTP/AVP 0', 'm=audio 5000 RTP/AVP 8');
    expect(parseAnswer(offer, wrong)).toMatchObject({ ok: false, status: 488 });
    expect(parseAnswer(offer, 'nonsense')).toMatchObject({ ok: false, status: 400 });
  });
});

describe('ptime and maxptime (RFC 3264 §5, RFC 4566 §6, RFC 7587 §7)', () => {
  const g711 = (...attrs: string[]): string => crlf([...SIPP_UAC.trimEnd().split('\r\n'), ...attrs]);
  const opus = (...attrs: string[]): string => crlf([...OPUS_OFFER.trimEnd().split('\r\n'), ...attrs]);

  it.each([
    [['a=ptime:10'], 10],
    [['a=ptime:30'], 30],
    [['a=ptime:40'], 40],
    [['a=ptime:50'], 50],
    [['a=ptime:60'], 60],
    [[], 20],
    [['a=ptime:25'], 20],
    [['a=ptime:5'], 10],
    [['a=ptime:80'], 60],
    [['a=ptime:40', 'a=maxptime:30'], 30],
    [['a=maxptime:20'], 20],
    [['a=maxptime:15'], 10],
    [['a=maxptime:5'], 10],
    [['a=ptime:abc'], 20],
  ])('G.711 offer %j is answered with a ptime of %i ms, the one we send', (attrs, expected) => {
    const r = ok(negotiateAnswer(g711(...attrs), local));
    expect(r.codec.ptimeMs).toBe(expected);
    expect(r.answerSdp).toContain(`a=ptime:${expected}\r\n`);
    expect(r.answerSdp).toContain('a=maxptime:60\r\n');
  });

  it.each([
    [[], 20],
    [['a=ptime:10'], 10],
    [['a=ptime:30'], 20],
    [['a=ptime:40'], 40],
    [['a=ptime:60'], 60],
    [['a=ptime:60', 'a=maxptime:40'], 40],
  ])('Opus offer %j sends whole Opus frames: %i ms', (attrs, expected) => {
    const r = ok(negotiateAnswer(opus(...attrs), local));
    expect(r.codec.name).toBe('opus');
    expect(r.codec.ptimeMs).toBe(expected);
    expect(r.answerSdp).toContain(`a=ptime:${expected}\r\n`);
  });

  it('answers a re-offer with the ptime the running leg already sends, unless maxptime forbids it', () => {
    const reoffer = g711('a=ptime:20');
    expect(ok(negotiateAnswer(reoffer, { ...local, ptimeMs: 30 })).codec.ptimeMs).toBe(30);
    expect(ok(negotiateAnswer(reoffer, { ...local, ptimeMs: 30 })).answerSdp).toContain('a=ptime:30\r\n');
    expect(ok(negotiateAnswer(g711('a=maxptime:20'), { ...local, ptimeMs: 30 })).codec.ptimeMs).toBe(20);
  });

  it('honours an Opus fmtp minptime above the wanted ptime', () => {
    const offer = OPUS_OFFER.replace('minptime=10', 'minptime=40');
    expect(ok(negotiateAnswer(offer, local)).codec.ptimeMs).toBe(40);
  });

  it('sends at the ptime the answerer asked for, else at the offered one', () => {
    const offer = createOffer(local, { codecs: ['PCMU'], ptimeMs: 20 });
    expect(offer).toContain('a=maxptime:60\r\n');
    const answer = (extra: string[]): string =>
      crlf([
        'v=0',
        'o=- 1 1 IN IP4 10.0.0.1',
        's=-',
        'c=IN IP4 10.0.0.1',
        't=0 0',
        'm=audio 5000 RTP/AVP 0',
        ...extra,
      ]);
    const with30 = parseAnswer(offer, answer(['a=ptime:30']));
    expect(with30).toMatchObject({ ok: true, codec: { ptimeMs: 30 } });
    const without = parseAnswer(offer, answer([]));
    expect(without).toMatchObject({ ok: true, codec: { ptimeMs: 20 } });
  });
});
