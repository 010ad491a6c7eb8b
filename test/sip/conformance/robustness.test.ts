/**
 * Conformance: a burst of garbage and malformed-but-plausible SIP over UDP and TCP must not crash the
 * production server, create calls, or stop the next valid call from succeeding.
 * Ports: 43300–43349 on 127.0.0.2 and 127.0.0.4.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeSipp, runSipp } from '../../support/sipp.js';
import {
  endedCalls,
  eventually,
  expectNothingLeaked,
  logsWith,
  startConformanceServer,
  type ServerUnderTest,
} from './harness.js';

const ATTACKER = '127.0.0.4';
const ATTACKER_PORT = 43300;

function request(lines: readonly string[], body = ''): string {
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** Messages that look like SIP but each break one rule (RFC 3261 §8.1.1 mandatory headers, §20.14, §20.42). */
function malformed(target: string): string[] {
  const via = `Via: SIP/2.0/UDP ${ATTACKER}:${ATTACKER_PORT};branch=z9hG4bK-bad`;
  const common = [
    `From: <sip:x@${ATTACKER}>;tag=1`,
    `To: <sip:agent@${target}>`,
    'CSeq: 1 INVITE',
    'Max-Forwards: 70',
  ];
  const sdp =
    'v=0\r\no=- 1 1 IN IP4 127.0.0.4\r\ns=-\r\nc=IN IP4 127.0.0.4\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n';
  return [
    // Bad Via (no protocol, no branch).
    request([
      `INVITE sip:agent@${target} SIP/2.0`,
      'Via: garbage',
      ...common,
      'Call-ID: bad-via',
      'Content-Length: 0',
    ]),
    // Missing Call-ID.
    request(
      [`INVITE sip:agent@${target} SIP/2.0`, via + '1', ...common, `Content-Length: ${sdp.length}`],
      sdp,
    ),
    // Negative Content-Length.
    request(
      [`INVITE sip:agent@${target} SIP/2.0`, via + '2', ...common, 'Call-ID: neg-cl', 'Content-Length: -20'],
      sdp,
    ),
    // Content-Length larger than the datagram.
    request(
      [
        `INVITE sip:agent@${target} SIP/2.0`,
        via + '3',
        ...common,
        'Call-ID: long-cl',
        'Content-Length: 99999',
      ],
      sdp,
    ),
    // Huge header.
    request([
      `OPTIONS sip:agent@${target} SIP/2.0`,
      via + '4',
      ...common.slice(0, 2),
      'CSeq: 1 OPTIONS',
      'Call-ID: huge',
      `Subject: ${'A'.repeat(60_000)}`,
      'Content-Length: 0',
    ]),
    // Wrong protocol version, a bare request line, header without colon, CSeq method mismatch, NUL bytes.
    request([`INVITE sip:agent@${target} SIP/3.0`, via + '5', ...common, 'Call-ID: v3', 'Content-Length: 0']),
    `INVITE sip:agent@${target} SIP/2.0\r\n\r\n`,
    request([
      `INVITE sip:agent@${target} SIP/2.0`,
      via + '6',
      'this is not a header',
      ...common,
      'Call-ID: nocolon',
    ]),
    request([
      `INVITE sip:agent@${target} SIP/2.0`,
      via + '7',
      ...common.slice(0, 2),
      'CSeq: 1 BYE',
      'Call-ID: cseq',
    ]),
    `SIP/2.0 200 OK\r\n${via}8\r\nCall-ID: stray\r\nCSeq: 1 INVITE\r\n\r\n`,
    'INVITE \u0000\u0000 SIP/2.0\r\nVia: \u0000\r\n\r\n',
    '\r\n\r\n', // keep-alive (RFC 5626 §3.5.1): must be ignored quietly
  ];
}

describe('SIP conformance: robustness (production server, echo agent)', () => {
  let sut: ServerUnderTest;

  beforeAll(async () => {
    sut = await startConformanceServer();
  });
  afterAll(async () => {
    await sut?.close();
  });
  afterEach(async () => {
    await expectNothingLeaked(sut);
  });

  it('survives a garbage burst over UDP and TCP, then completes valid calls', async () => {
    const messages = malformed(`${sut.sipHost}:${sut.sipPort}`);

    // UDP: random datagrams and every malformed message.
    const udp = createSocket('udp4');
    const replies: string[] = [];
    udp.on('message', (m) => replies.push(m.toString('latin1').split('\r\n')[0] ?? ''));
    await new Promise<void>((r) => udp.bind(ATTACKER_PORT, ATTACKER, r));
    const send = (data: Buffer | string): Promise<void> =>
      new Promise((r) => udp.send(data, sut.sipPort, sut.sipHost, () => r()));
    for (let i = 0; i < 50; i++) await send(randomBytes(1 + Math.floor(Math.random() * 1400)));
    for (const m of messages) await send(m);

    // TCP: the same on one stream (a parser that loses framing must close the connection, not crash),
    // then a stream that announces a body it never sends and a megabyte header.
    for (const payload of [
      [...messages, randomBytes(4096)],
      [`INVITE sip:agent@x SIP/2.0\r\nContent-Length: 500\r\n\r\nshort`],
      [`OPTIONS sip:agent@x SIP/2.0\r\nX-Big: ${'B'.repeat(1_000_000)}\r\n\r\n`],
    ]) {
      await new Promise<void>((resolve) => {
        const socket = connect({ host: sut.sipHost, port: sut.sipPort, localAddress: ATTACKER });
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.on('connect', () => {
          for (const p of payload) socket.write(p);
          setTimeout(() => socket.destroy(), 300);
        });
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    udp.close();

    expect(sut.srv.server.signaling.connected).toBe(true);
    // Nothing the attacker sent became a call.
    expect(logsWith(sut, 'call started')).toHaveLength(0);
    // Malformed requests get 4xx (RFC 3261 §8.2), a SIP/3.0 request 505 (§8.2.1); never a 500.
    expect(
      replies.every((line) => !line.startsWith('SIP/2.0 5') || line.startsWith('SIP/2.0 505')),
      replies.join('\n'),
    ).toBe(true);

    for (const transport of ['udp', 'tcp'] as const) {
      const r = await runSipp({
        scenario: { builtin: 'uac' },
        target: sut.target,
        localIp: '127.0.0.2',
        localPort: transport === 'udp' ? 43301 : 43302,
        mediaPort: 43310,
        transport,
        service: 'agent',
        durationMs: 500,
      });
      expect(r.exitCode, describeSipp(r)).toBe(0);
    }
    await eventually(() =>
      expect(endedCalls(sut).map((c) => c.reason)).toEqual(['caller-bye', 'caller-bye']),
    );
    expect(logsWith(sut, 'call started').map((c) => c.from)).toEqual(['sipp', 'sipp']);
  });
});
