import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EmbeddedSignaling } from '../../../src/sip/embedded/index.js';
import type { SipMessage, SipRequest } from '../../../src/sip/embedded/message.js';
import { RawUdpPeer, isRequest, rawResponse, sdp, startUa } from './helpers.js';

let ua: EmbeddedSignaling;
let peer: RawUdpPeer;
beforeEach(async () => {
  ua = await startUa(['udp', 'tcp'], 50);
  peer = await RawUdpPeer.open();
});
afterEach(async () => {
  peer.close();
  await ua.close();
});

/** The callee's response: To tagged `peer1`. */
const reply = (request: SipMessage, status: number, reason: string, headers: Record<string, string> = {}) =>
  rawResponse(request, status, { reason, toTag: 'peer1', headers });

describe('EmbeddedSignaling.dial (UAC)', () => {
  it('answers a 401 digest challenge once, with the next CSeq, and reports the final failure', async () => {
    const dialing = ua.dial(`sip:bob@127.0.0.1:${peer.port}`, {
      sdpOffer: sdp(4000),
      auth: { username: 'Mufasa', password: 'Circle of Life' },
      proxy: `sip:127.0.0.1:${peer.port}`,
    });
    const first = (await peer.next(isRequest('INVITE'))) as SipRequest;
    expect(first.headers.get('Route')).toBe(`<sip:127.0.0.1:${peer.port};lr>`);
    expect(first.uri).toBe(`sip:bob@127.0.0.1:${peer.port}`);
    peer.send(
      reply(first, 401, 'Unauthorized', {
        'WWW-Authenticate': 'Digest realm="switchboard.test", nonce="abc123", qop="auth", algorithm=SHA-256',
      }),
      ua.port,
    );
    const ack = (await peer.next(isRequest('ACK'))) as SipRequest;
    expect(ack.headers.get('Via')).toBe(first.headers.get('Via')); // §17.1.1.3: same branch
    const second = (await peer.next(
      (m) => isRequest('INVITE')(m) && m.headers.get('CSeq') === '2 INVITE',
    )) as SipRequest;
    const auth = second.headers.get('Authorization')!;
    expect(auth).toMatch(/^Digest username="Mufasa", realm="switchboard.test", nonce="abc123"/);
    expect(auth).toContain('algorithm=SHA-256');
    expect(auth).toContain('qop=auth');
    expect(second.headers.get('Call-ID')).toBe(first.headers.get('Call-ID'));
    expect(second.headers.get('Via')).not.toBe(first.headers.get('Via'));
    // A second challenge is not answered again.
    peer.send(
      reply(second, 401, 'Unauthorized', { 'WWW-Authenticate': 'Digest realm="x", nonce="y"' }),
      ua.port,
    );
    await expect(dialing).rejects.toMatchObject({ status: 401 });
  });

  it('gives up with 408 when nothing answers before timeoutMs', async () => {
    await expect(
      ua.dial(`sip:bob@127.0.0.1:${peer.port}`, { sdpOffer: sdp(4000), timeoutMs: 300 }),
    ).rejects.toMatchObject({
      status: 408,
    });
  });

  it('ACKs and BYEs a 2xx that crosses an abort', async () => {
    const abort = new AbortController();
    const dialing = ua.dial(`sip:bob@127.0.0.1:${peer.port}`, { sdpOffer: sdp(4000), signal: abort.signal });
    const invite = await peer.next(isRequest('INVITE'));
    abort.abort();
    await expect(dialing).rejects.toMatchObject({ status: 487 });
    const ok = reply(invite, 200, 'OK', { Contact: `<sip:bob@127.0.0.1:${peer.port}>` });
    peer.send(ok, ua.port);
    await peer.next(isRequest('ACK'));
    const bye = await peer.next(isRequest('BYE'));
    peer.send(reply(bye, 200, 'OK'), ua.port);
  });
});

describe('TCP robustness', () => {
  it('closes a connection that floods past the buffer limit and keeps serving others', async () => {
    const socket = net.connect(ua.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const closed = new Promise((r) => socket.once('close', r));
    socket.on('error', () => undefined);
    socket.write(Buffer.alloc(70_000, 65));
    await closed;
    expect(ua.stats.tcpOverflowClosed).toBe(1);

    const ok = net.connect(ua.port, '127.0.0.1');
    await new Promise((r) => ok.once('connect', r));
    const data = new Promise<string>((resolve) => ok.once('data', (d: Buffer) => resolve(d.toString())));
    const options = (branch: string): string =>
      `OPTIONS sip:agent@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=${branch}\r\nMax-Forwards: 70\r\n` +
      `From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:agent@127.0.0.1>\r\nCall-ID: tcp-opt-${branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    const two = options('z9hG4bKt1') + options('z9hG4bKt2');
    ok.write(two.slice(0, 50));
    ok.write(two.slice(50));
    expect(await data).toMatch(/^SIP\/2\.0 200 OK/);
    ok.destroy();
  });
});

describe('transport failures', () => {
  it('a refused TCP connection fails the dial with 503 instead of waiting for Timer B', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    await expect(
      ua.dial(`sip:bob@127.0.0.1:${closedPort};transport=tcp`, { sdpOffer: sdp(4000) }),
    ).rejects.toMatchObject({ status: 503 });
  });
});
