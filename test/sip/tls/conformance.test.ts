/**
 * SIP over TLS conformance basics (RFC 3261 §18, §26.2, RFC 5630) against the production server, with
 * `openssl s_client` as the independent raw TLS peer (the Debian sipp is built without TLS): OpenSSL
 * verifies the server certificate against the test CA, the test writes SIP text and reads the answers.
 * A sips: Request-URI over TCP is refused 416 (a raw TCP peer). Ports: Via sent-by 127.0.0.1:51000–51009.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TlsClient, sipMessages, type WireMessage } from '../../support/tls-client.js';
import { endedCalls, eventually, expectNothingLeaked } from '../conformance/harness.js';
import { startTlsServer, type TlsServerUnderTest } from './harness.js';

const SDP =
  'v=0\r\no=- 1 1 IN IP4 127.0.0.110\r\ns=-\r\nc=IN IP4 127.0.0.110\r\nt=0 0\r\n' +
  'm=audio 51002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

function request(
  method: string,
  uri: string,
  o: { callId: string; cseq: number; branch: string; toTag?: string; body?: string; port?: number },
): string {
  const body = o.body ?? '';
  return (
    `${method} ${uri} SIP/2.0\r\n` +
    `Via: SIP/2.0/TLS 127.0.0.1:${o.port ?? 51000};branch=z9hG4bK${o.branch};rport\r\n` +
    'Max-Forwards: 70\r\n' +
    'From: <sip:caller@127.0.0.1>;tag=tls-caller\r\n' +
    `To: <${uri}>${o.toTag === undefined ? '' : `;tag=${o.toTag}`}\r\n` +
    `Call-ID: ${o.callId}\r\n` +
    `CSeq: ${o.cseq} ${method}\r\n` +
    'Contact: <sip:caller@127.0.0.1:51000;transport=tls>\r\n' +
    (body === '' ? '' : 'Content-Type: application/sdp\r\n') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

const tagOf = (m: WireMessage): string => /;tag=([^;>\s]+)/.exec(m.header('To') ?? '')?.[1] ?? '';

describe('SIP over TLS: conformance basics with openssl s_client', { timeout: 60_000 }, () => {
  let sut: TlsServerUnderTest;
  beforeAll(async () => {
    sut = await startTlsServer();
  }, 60_000);
  afterAll(async () => {
    await sut?.close();
  }, 30_000);

  it('answers OPTIONS over a verified TLS connection; the Via says TLS and gets received/rport', async () => {
    expect(sut.tlsPort).toBeGreaterThan(0);
    expect(sut.tlsPort).not.toBe(sut.sipPort);
    const client = new TlsClient({ port: sut.tlsPort, caFile: sut.ca.cert });
    try {
      // 0 = OpenSSL verified the chain to the test CA and the 127.0.0.1 subjectAltName.
      expect(await client.connected()).toBe(0);
      expect(client.peerSerial()).toBe(sut.serverCert.serial);
      client.write(
        request('OPTIONS', `sip:100@127.0.0.1:${sut.tlsPort}`, {
          callId: 'tls-opt-1',
          cseq: 1,
          branch: 'opt1',
        }),
      );
      const res = await client.waitForMessage((m) => m.status !== undefined);
      expect(res.status).toBe(200);
      const via = res.header('Via') ?? '';
      expect(via).toMatch(/^SIP\/2\.0\/TLS 127\.0\.0\.1:51000;branch=z9hG4bKopt1;/);
      expect(via).toMatch(/rport=\d+/);
      expect(res.header('Allow')).toContain('INVITE');
    } finally {
      await client.close();
    }
  });

  it('INVITE, ACK, BYE over TLS: 200 with a ;transport=tls Contact on the TLS port, BYE answered 200', async () => {
    const ended = endedCalls(sut).length;
    const client = new TlsClient({ port: sut.tlsPort, caFile: sut.ca.cert });
    const uri = `sip:100@127.0.0.1:${sut.tlsPort}`;
    try {
      expect(await client.connected()).toBe(0);
      client.write(request('INVITE', uri, { callId: 'tls-call-1', cseq: 1, branch: 'inv1', body: SDP }));
      const ok = await client.waitForMessage(
        (m) => m.status === 200 && /INVITE/.test(m.header('CSeq') ?? ''),
      );
      expect(ok.header('Contact')).toBe(`<sip:switchboard@127.0.0.1:${sut.tlsPort};transport=tls>`);
      expect(ok.body).toMatch(/m=audio \d+ RTP\/AVP 0/);
      const toTag = tagOf(ok);
      expect(toTag).not.toBe('');
      client.write(request('ACK', uri, { callId: 'tls-call-1', cseq: 1, branch: 'ack1', toTag }));
      await eventually(() => expect(sut.srv.server.calls.size).toBe(1));
      client.write(request('BYE', uri, { callId: 'tls-call-1', cseq: 2, branch: 'bye1', toTag }));
      const byeOk = await client.waitForMessage(
        (m) => m.status === 200 && /BYE/.test(m.header('CSeq') ?? ''),
      );
      expect(tagOf(byeOk)).toBe(toTag);
      await eventually(() => expect(endedCalls(sut).length).toBe(ended + 1));
      await expectNothingLeaked(sut);
    } finally {
      await client.close();
    }
  });

  it("a server-side hangup sends its BYE over the caller's own TLS connection (connection reuse)", async () => {
    const client = new TlsClient({ port: sut.tlsPort, caFile: sut.ca.cert });
    const uri = `sips:100@127.0.0.1:${sut.tlsPort}`;
    try {
      expect(await client.connected()).toBe(0);
      client.write(request('INVITE', uri, { callId: 'tls-call-2', cseq: 1, branch: 'inv2', body: SDP }));
      const ok = await client.waitForMessage(
        (m) => m.status === 200 && /INVITE/.test(m.header('CSeq') ?? ''),
      );
      // RFC 3261 §12.1.1 / RFC 5630: a sips: Request-URI gets a sips: Contact (no ;transport=tls).
      expect(ok.header('Contact')).toBe(`<sips:switchboard@127.0.0.1:${sut.tlsPort}>`);
      const toTag = tagOf(ok);
      client.write(request('ACK', uri, { callId: 'tls-call-2', cseq: 1, branch: 'ack2', toTag }));
      let id = '';
      await eventually(async () => {
        const list = await sut.srv.api('GET', '/v1/calls');
        id = list.json?.calls?.[0]?.id ?? list.json?.[0]?.id ?? '';
        expect(id).not.toBe('');
      });
      // The hangup resolves once the BYE is sent (the call leaves the list then); read the BYE meanwhile.
      const del = sut.srv.api('DELETE', `/v1/calls/${id}`);
      // The caller's Contact port (51000) has no listener: the BYE can only arrive on this connection.
      const bye = await client.waitForMessage((m) => m.method === 'BYE');
      expect(bye.header('Via')).toMatch(/^SIP\/2\.0\/TLS 127\.0\.0\.1:\d+;branch=/);
      expect(bye.header('Call-ID')).toBe('tls-call-2');
      const via = bye.header('Via') ?? '';
      client.write(
        'SIP/2.0 200 OK\r\n' +
          `Via: ${via}\r\n` +
          `From: ${bye.header('From') ?? ''}\r\nTo: ${bye.header('To') ?? ''}\r\n` +
          `Call-ID: tls-call-2\r\nCSeq: ${bye.header('CSeq') ?? ''}\r\nContent-Length: 0\r\n\r\n`,
      );
      expect((await del).status).toBe(204);
      await expectNothingLeaked(sut);
    } finally {
      await client.close();
    }
  });

  it('refuses a sips: Request-URI that arrived over plain TCP with 416, and serves no call', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: sut.sipPort, localAddress: '127.0.0.110' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    try {
      const invite = request('INVITE', `sips:100@127.0.0.1:${sut.sipPort}`, {
        callId: 'tcp-sips-1',
        cseq: 1,
        branch: 'sipstcp',
        body: SDP,
      }).replace('SIP/2.0/TLS 127.0.0.1:51000', 'SIP/2.0/TCP 127.0.0.110:51004');
      socket.write(invite);
      await eventually(() => expect(sipMessages(text).some((m) => (m.status ?? 0) >= 300)).toBe(true));
      const final = sipMessages(text).find((m) => (m.status ?? 0) >= 300);
      expect(final?.status).toBe(416);
      expect(final?.startLine).toMatch(/sips: requires TLS/);
      expect(sut.srv.server.calls.size).toBe(0);
    } finally {
      socket.destroy();
    }
  });
});
