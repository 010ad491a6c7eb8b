/**
 * G.722 in SDP (src/sip/sdp.ts): static PT 9 as `G722/8000` (RFC 3551 §4.5.2: the RTP clock is 8000 although
 * the audio is 16 kHz), the 8 kHz telephone-event with it, and the answer preferring G.722 over G.711
 * whatever the offer's order (Opus and the offer's order otherwise unchanged).
 */
import { parse } from 'sdp-transform';
import { describe, expect, it } from 'vitest';
import { createOffer, negotiateAnswer, parseAnswer } from '../../src/sip/sdp.js';
import { crlf, local, ok } from './sdp.support.js';

/** A peer's SDP (192.0.2.7) with one audio m-line of `formats` followed by `lines`. */
function peerSdp(formats: string, lines: readonly string[]): string {
  const head = ['v=0', 'o=- 20 20 IN IP4 192.0.2.7', 's=-', 'c=IN IP4 192.0.2.7', 't=0 0'];
  return crlf([...head, `m=audio 16384 RTP/AVP ${formats}`, ...lines]);
}

const RTPMAPS = [
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
];

/** An offer as a desk phone or PBX writes it, with the m-line's formats given. */
function phoneOffer(formats: string, ...extra: string[]): string {
  return peerSdp(formats, [...RTPMAPS, ...extra, 'a=sendrecv']);
}

describe('G.722 in the SDP answer', () => {
  it.each(['0 8 9 101', '9 0 8 101', '8 9 101'])(
    'answers "%s" with G722/8000 on PT 9 and telephone-event at 8000',
    (formats) => {
      const r = ok(negotiateAnswer(phoneOffer(formats), local));
      expect(r.codec).toEqual({ name: 'G722', payloadType: 9, clockRateHz: 8000, channels: 1, ptimeMs: 20 });
      expect(r.telephoneEvent).toEqual({ payloadType: 101, clockRateHz: 8000 });
      const m = parse(r.answerSdp).media[0];
      expect(m?.payloads).toBe('9 101');
      expect(r.answerSdp).toContain('a=rtpmap:9 G722/8000\r\n');
      expect(r.answerSdp).toContain('a=rtpmap:101 telephone-event/8000\r\n');
    },
  );

  it('recognises PT 9 without an rtpmap line (static, RFC 3551 Table 4)', () => {
    const offer = peerSdp('0 9', []);
    expect(ok(negotiateAnswer(offer, local)).codec).toMatchObject({ name: 'G722', payloadType: 9 });
  });

  it('refuses G722 at a clock other than the RFC 3551 8000 (e.g. G722/16000) and falls back to G.711', () => {
    const offer = phoneOffer('9 0 101').replace('a=rtpmap:9 G722/8000', 'a=rtpmap:9 G722/16000');
    expect(ok(negotiateAnswer(offer, local)).codec.name).toBe('PCMU');
  });

  it('keeps G.711 when G.722 is not in the supported list', () => {
    const r = ok(negotiateAnswer(phoneOffer('9 0 8 101'), { ...local, supported: ['PCMU', 'PCMA'] }));
    expect(r.codec.name).toBe('PCMU');
  });

  it('keeps the offer order among wideband codecs: Opus first stays Opus', () => {
    const offer = phoneOffer('111 9 0 101', 'a=rtpmap:111 opus/48000/2');
    expect(ok(negotiateAnswer(offer, local)).codec.name).toBe('opus');
  });

  it('honours a=ptime with G.722 (octet-aligned: any 10 ms step up to 60 ms)', () => {
    const r = ok(negotiateAnswer(phoneOffer('9 0 101', 'a=ptime:30'), local));
    expect(r.codec).toMatchObject({ name: 'G722', ptimeMs: 30 });
    expect(parse(r.answerSdp).media[0]?.ptime).toBe(30);
  });
});

describe('G.722 in our offer', () => {
  it('is offered by default after G.711, as 9 G722/8000 with the 8 kHz telephone-event', () => {
    const offer = createOffer(local);
    expect(parse(offer).media[0]?.payloads).toBe('0 8 9 111 110 101');
    expect(offer).toContain('a=rtpmap:9 G722/8000\r\n');
  });

  it('reads a G.722 answer to our offer', () => {
    const offer = createOffer(local, { codecs: ['G722', 'PCMU'] });
    expect(parse(offer).media[0]?.payloads).toBe('9 0 101');
    const answer = peerSdp('9 101', ['a=rtpmap:9 G722/8000', 'a=rtpmap:101 telephone-event/8000']);
    const r = parseAnswer(offer, answer);
    if (!r.ok) throw new Error(r.detail);
    expect(r.codec).toMatchObject({ name: 'G722', payloadType: 9, clockRateHz: 8000 });
    expect(r.telephoneEvent).toEqual({ payloadType: 101, clockRateHz: 8000 });
  });
});
