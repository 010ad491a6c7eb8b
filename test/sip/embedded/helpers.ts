import dgram from 'node:dgram';
import { afterEach, beforeEach } from 'vitest';
import { pino } from 'pino';
import { EmbeddedSignaling } from '../../../src/sip/embedded/index.js';
import type { SipTransport } from '../../../src/sip/signaling.js';
import { parseMessage } from '../../../src/sip/embedded/parser.js';
import { SipHeaders, type SipMessage } from '../../../src/sip/embedded/message.js';
import { serializeMessage } from '../../../src/sip/embedded/serializer.js';
import type { Scheduler } from '../../../src/sip/embedded/transaction.js';
import { FakeScheduler } from './fake-scheduler.js';

export const logger = pino({ level: 'silent' });

export function sdp(port: number, version = 1): string {
  return [
    'v=0',
    `o=- 1 ${version} IN IP4 127.0.0.1`,
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    '',
  ].join('\r\n');
}

export async function startUa(
  transports: SipTransport[] = ['udp', 'tcp'],
  t1Ms = 100,
): Promise<EmbeddedSignaling> {
  const ua = new EmbeddedSignaling({
    host: '127.0.0.1',
    port: 0,
    transports,
    publicHost: '127.0.0.1',
    logger,
    timers: { t1Ms, t2Ms: 8 * t1Ms, t4Ms: 10 * t1Ms },
  });
  await ua.start();
  return ua;
}

/** A UDP-only UA on a fake clock, with the default RFC 3261 timers (T1 = 500 ms). */
export async function startUaOnClock(scheduler: Scheduler): Promise<EmbeddedSignaling> {
  const ua = new EmbeddedSignaling({
    host: '127.0.0.1',
    port: 0,
    transports: ['udp'],
    publicHost: '127.0.0.1',
    logger,
    scheduler,
  });
  await ua.start();
  return ua;
}

export interface ClockedUa {
  readonly clock: FakeScheduler;
  readonly ua: EmbeddedSignaling;
  readonly peer: RawUdpPeer;
}

/**
 * Per test: a fresh fake clock, a UA on it (startUaOnClock) and a raw UDP peer, handed to `use`; closed after
 * the test.
 */
export function withUaOnClock(use: (fixture: ClockedUa) => void): void {
  let fixture: ClockedUa | undefined;
  beforeEach(async () => {
    const clock = new FakeScheduler();
    fixture = { clock, ua: await startUaOnClock(clock), peer: await RawUdpPeer.open() };
    use(fixture);
  });
  afterEach(async () => {
    fixture?.peer.close();
    await fixture?.ua.close();
  });
}

/**
 * The raw peer's response to `request` (RFC 3261 §8.2.6.2): its Via, From, To, Call-ID and CSeq. `toTag`
 * tags the To (a UAS creating a dialog); `headers` are set after; a non-empty `body` is SDP.
 */
export function rawResponse(
  request: SipMessage,
  status: number,
  options: {
    readonly reason?: string;
    readonly toTag?: string;
    readonly headers?: Readonly<Record<string, string>>;
    readonly body?: string;
  } = {},
): Buffer {
  const headers = new SipHeaders();
  for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq'])
    for (const v of request.headers.getAll(name)) headers.append(name, v);
  if (options.toTag !== undefined)
    headers.set('To', `${request.headers.get('To') ?? ''};tag=${options.toTag}`);
  for (const [k, v] of Object.entries(options.headers ?? {})) headers.set(k, v);
  const body = options.body ?? '';
  if (body !== '') headers.set('Content-Type', 'application/sdp');
  const reason = options.reason ?? 'x';
  return serializeMessage({ kind: 'response', status, reason, headers, body: Buffer.from(body) });
}

/** A hand-driven UDP peer for scenarios our own UA would not produce (late ACK, NOTIFY, garbage). */
export class RawUdpPeer {
  readonly messages: SipMessage[] = [];
  private waiters: Array<{ match: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void }> = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (data) => {
      const parsed = parseMessage(data);
      if (!parsed.ok) return;
      this.messages.push(parsed.message);
      for (const w of [...this.waiters]) {
        if (w.match(parsed.message)) {
          this.waiters = this.waiters.filter((x) => x !== w);
          w.resolve(parsed.message);
        }
      }
    });
  }

  /** Bind a peer (default 127.0.0.1 on an ephemeral port). Tests against a server use another 127/8 address. */
  static async open(address = '127.0.0.1', port = 0): Promise<RawUdpPeer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => resolve());
    });
    return new RawUdpPeer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get address(): string {
    return this.socket.address().address;
  }

  send(text: string | Buffer, port: number, host = '127.0.0.1'): void {
    this.socket.send(typeof text === 'string' ? Buffer.from(text) : text, port, host);
  }

  /** Next message (already received or future) matching `match`. */
  next(match: (m: SipMessage) => boolean, timeoutMs = 3000, from = 0): Promise<SipMessage> {
    const seen = this.messages.slice(from).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for SIP message')), timeoutMs);
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  close(): void {
    this.socket.close();
  }
}

export const isStatus =
  (status: number, method?: string) =>
  (m: SipMessage): boolean =>
    m.kind === 'response' &&
    m.status === status &&
    (method === undefined || (m.headers.get('CSeq') ?? '').endsWith(method));

export const isRequest =
  (method: string) =>
  (m: SipMessage): boolean =>
    m.kind === 'request' && m.method === method;

/** A minimal INVITE from the raw peer. */
export function rawInvite(
  peerPort: number,
  opts: { callId: string; branch: string; body?: string; extra?: string },
): string {
  const body = opts.body ?? '';
  return (
    `INVITE sip:agent@127.0.0.1 SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${peerPort};branch=${opts.branch};rport\r\n` +
    `Max-Forwards: 70\r\n` +
    `From: "Caller" <sip:+15551234@127.0.0.1:${peerPort}>;tag=abc\r\n` +
    `To: <sip:agent@127.0.0.1>\r\n` +
    `Call-ID: ${opts.callId}\r\n` +
    `CSeq: 1 INVITE\r\n` +
    `Contact: <sip:caller@127.0.0.1:${peerPort}>\r\n` +
    (opts.extra ?? '') +
    (body.length > 0 ? 'Content-Type: application/sdp\r\n' : '') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** A random 127/8 address other than 127.0.0.1, so that a raw peer never shares the server's address. */
export function randomLoopback(): string {
  const octet = (): number => 1 + Math.floor(Math.random() * 250);
  return `127.${octet()}.${octet()}.${octet()}`;
}
