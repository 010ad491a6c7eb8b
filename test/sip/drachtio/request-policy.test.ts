import { describe, expect, it } from 'vitest';
import { ALLOW_HEADER, refuseRequest } from '../../../src/sip/request-policy.js';
import { FakeRequest } from './fake-api.js';
import { started } from './helpers.js';

const OFFER =
  'v=0\r\no=- 1 1 IN IP4 198.51.100.2\r\ns=-\r\nc=IN IP4 198.51.100.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n';

function request(
  method: string,
  headers: Record<string, string> = {},
  uri = 'sip:agent@192.0.2.1',
): FakeRequest {
  const r = new FakeRequest(
    {
      From: '<sip:+15551230000@198.51.100.2>;tag=rtag',
      To: '<sip:agent@192.0.2.1>',
      'Call-ID': 'c-1@198.51.100.2',
      ...headers,
    },
    method === 'INVITE' ? OFFER : undefined,
  );
  r.method = method;
  r.uri = uri;
  return r;
}

const header = (h: Record<string, string>) => (name: string) =>
  Object.entries(h).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];

describe('refuseRequest (RFC 3261 §8.2, both backends)', () => {
  it('405 with Allow for a method we do not serve, never for ACK/CANCEL', () => {
    expect(refuseRequest('SUBSCRIBE', 'sip:a@b', header({}))).toEqual({
      status: 405,
      reason: 'Method Not Allowed',
      headers: { Allow: ALLOW_HEADER },
    });
    expect(refuseRequest('ACK', 'mailto:x@y', header({ Require: 'foo' }))).toBeUndefined();
    expect(refuseRequest('CANCEL', 'sip:a@b', header({ Require: 'foo' }))).toBeUndefined();
  });
  it('416 for a Request-URI scheme other than sip/sips/tel', () => {
    expect(refuseRequest('INVITE', 'mailto:agent@example.com', header({}))?.status).toBe(416);
    expect(refuseRequest('OPTIONS', 'http://example.com/', header({}))?.status).toBe(416);
    expect(refuseRequest('INVITE', 'SIP:agent@example.com', header({}))).toBeUndefined();
    expect(refuseRequest('INVITE', 'tel:+15551230000', header({}))).toBeUndefined();
  });
  it('420 naming every unknown Require tag; known tags pass', () => {
    expect(refuseRequest('INVITE', 'sip:a@b', header({ Require: 'timer, 100rel, foo' }))).toEqual({
      status: 420,
      reason: 'Bad Extension',
      headers: { Unsupported: '100rel, foo' },
    });
    expect(refuseRequest('OPTIONS', 'sip:a@b', header({ Require: 'nothingweknow' }))?.status).toBe(420);
    expect(refuseRequest('INVITE', 'sip:a@b', header({ Require: 'Timer' }))).toBeUndefined();
  });
  it('406 for an INVITE whose Accept excludes SDP', () => {
    expect(refuseRequest('INVITE', 'sip:a@b', header({ Accept: 'text/plain' }))?.status).toBe(406);
    expect(
      refuseRequest('INVITE', 'sip:a@b', header({ Accept: 'application/sdp;q=0, text/html' }))?.status,
    ).toBe(406);
    for (const ok of ['application/sdp', 'application/*', '*/*', 'text/plain, application/SDP;q=0.5', ''])
      expect(refuseRequest('INVITE', 'sip:a@b', header({ Accept: ok })), ok).toBeUndefined();
    // Accept on OPTIONS says what the *response* may carry; we answer OPTIONS without a body.
    expect(refuseRequest('OPTIONS', 'sip:a@b', header({ Accept: 'text/plain' }))).toBeUndefined();
  });
});

describe('DrachtioSignaling refuses what it cannot serve', () => {
  it('answers 416/420/406 to an INVITE before the application sees it', async () => {
    const { api, calls } = await started();
    const cases: Array<[FakeRequest, number]> = [
      [request('INVITE', {}, 'mailto:agent@example.com'), 416],
      [request('INVITE', { Require: '100rel' }), 420],
      [request('INVITE', { Accept: 'text/html' }), 406],
    ];
    for (const [req, status] of cases) {
      const res = api.deliver(req);
      expect(res.sent[0]?.status).toBe(status);
    }
    expect(calls).toHaveLength(0);
    expect(api.deliver(request('INVITE', { Require: '100rel' })).sent[0]?.opts?.headers).toEqual({
      Unsupported: '100rel',
    });
    api.deliver(request('INVITE'));
    expect(calls).toHaveLength(1);
  });

  it('answers OPTIONS 200 with Allow, and 420 for an unknown Require', async () => {
    const { api } = await started();
    const ok = api.deliver(request('OPTIONS'));
    expect(ok.sent[0]?.status).toBe(200);
    expect(ok.sent[0]?.opts?.headers?.Allow).toBe(ALLOW_HEADER);
    expect(api.deliver(request('OPTIONS', { Require: 'foo' })).sent[0]?.status).toBe(420);
  });

  it('405 + Allow for REGISTER, SUBSCRIBE, PUBLISH, MESSAGE and out-of-dialog INFO/REFER/NOTIFY; 481 with a To tag', async () => {
    const { api } = await started();
    for (const method of ['REGISTER', 'SUBSCRIBE', 'PUBLISH', 'MESSAGE', 'INFO', 'REFER', 'NOTIFY']) {
      const res = api.deliver(request(method));
      expect(res.sent, method).toHaveLength(1);
      expect(res.sent[0]?.status, method).toBe(405);
      expect(res.sent[0]?.opts?.headers?.Allow, method).toBe(ALLOW_HEADER);
    }
    const stray = api.deliver(request('INFO', { To: '<sip:agent@192.0.2.1>;tag=gone' }));
    expect(stray.sent[0]?.status).toBe(481);
  });
});
