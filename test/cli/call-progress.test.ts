/**
 * `switchboard call` against far ends that never answer (issue 19): it says what it is waiting for on stderr,
 * honours `--timeout` (one `switchboard:` line, exit 69) instead of sitting through Timer B, CANCELs a
 * ringing call it gives up on, and binds its RTP inside `--rtp-ports`. The far ends are raw UDP sockets on
 * loopback written here (no SIP stack of ours on that side).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../support/cli-run.js';

interface FarEnd {
  readonly socket: Socket;
  readonly port: number;
  readonly requests: string[];
}

/** A UDP SIP peer that records requests; `ring` answers each new INVITE with 180 Ringing (never 200). */
async function farEnd(ring: boolean): Promise<FarEnd> {
  const socket = createSocket('udp4');
  const requests: string[] = [];
  socket.on('message', (m: Buffer, from: RemoteInfo) => {
    const text = m.toString('latin1');
    requests.push(text);
    const method = /^([A-Z]+) /.exec(text)?.[1];
    const header = (name: string): string => new RegExp(`^${name}:.*$`, 'im').exec(text)?.[0] ?? '';
    const reply = (status: string, toTag: string): void => {
      const to = toTag === '' ? header('To') : `${header('To')};tag=${toTag}`;
      const res =
        `SIP/2.0 ${status}\r\n${header('Via')}\r\n${header('From')}\r\n${to}\r\n` +
        `${header('Call-ID')}\r\n${header('CSeq')}\r\nContent-Length: 0\r\n\r\n`;
      socket.send(res, from.port, from.address);
    };
    if (method === 'INVITE' && ring && !requests.slice(0, -1).some((r) => r.startsWith('INVITE '))) {
      reply('180 Ringing', 'far1');
    } else if (method === 'CANCEL') {
      reply('200 OK', '');
    }
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { socket, port: socket.address().port, requests };
}

const lines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.trim() !== '');

describe('switchboard call: progress, --timeout, --rtp-ports', { timeout: 60_000 }, () => {
  let peer: FarEnd | undefined;
  afterEach(() => peer?.socket.close());

  it('a far end that never responds: progress lines, then one error line after --timeout (69)', async () => {
    peer = await farEnd(false);
    const uri = `sip:100@127.0.0.1:${peer.port}`;
    const r = await cli(['call', uri, '--timeout', '7', '--rtp-ports', '45010-45011']);
    expect(r.code, r.stderr).toBe(69);
    const out = lines(r.stderr);
    // A progress line every 5 s (one within the 7 s: its figure may read 6 on a loaded machine), the error.
    expect(out.length).toBeGreaterThanOrEqual(2);
    for (const line of out.slice(0, -1)) expect(line).toMatch(/^calling \S+: no response yet \([5-7] s\)$/);
    expect(out.at(-1)).toBe(`switchboard: no answer from ${uri} within 7 s`);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    // It did dial (INVITE retransmissions over UDP), and its SDP offered RTP on the only even port allowed.
    const invite = peer.requests.find((q) => q.startsWith('INVITE '));
    expect(invite).toBeDefined();
    expect(invite).toMatch(/\r\nm=audio 45010 RTP\/AVP /);
  });

  it('a ringing far end: says 180 Ringing, and CANCELs when it gives up', async () => {
    peer = await farEnd(true);
    const uri = `sip:100@127.0.0.1:${peer.port}`;
    const r = await cli(['call', uri, '--timeout', '3']);
    expect(r.code, r.stderr).toBe(69);
    const out = lines(r.stderr);
    expect(out[0]).toBe(`calling ${uri}: 180 Ringing`);
    expect(out.at(-1)).toBe(`switchboard: no answer from ${uri} within 3 s`);
    expect(peer.requests.some((q) => q.startsWith('CANCEL '))).toBe(true);
  });

  it('refuses a --rtp-ports range without an even/odd pair before dialling (usage error)', async () => {
    peer = await farEnd(false);
    const r = await cli(['call', `sip:100@127.0.0.1:${peer.port}`, '--rtp-ports', '45011-45012']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--rtp-ports must be MIN-MAX/);
    expect(peer.requests).toHaveLength(0);
  });
});
