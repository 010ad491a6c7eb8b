/**
 * A hostile SIP peer for the front-door tests (issue 11), written from RFC 3261 and sharing no code with the
 * server: raw INVITEs over UDP that are never ACKed, piles of TCP connections, and connections that drip a
 * message one byte at a time. Every loop here is bounded by a count; nothing retries forever.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import net from 'node:net';

/** The attacker's address; victims use 127.0.0.2 (never the server's 127.0.0.1). */
export const ATTACKER_IP = '127.0.0.66';

export interface RawInviteOptions {
  readonly user: string;
  readonly server: { readonly host: string; readonly port: number };
  readonly local: { readonly host: string; readonly port: number };
  readonly transport?: 'UDP' | 'TCP';
  readonly userAgent?: string;
  readonly callId?: string;
  /** Media port in the SDP offer (nobody listens there). */
  readonly mediaPort?: number;
}

function token(): string {
  return randomBytes(6).toString('hex');
}

/** A complete INVITE with a PCMU offer. */
export function rawInvite(o: RawInviteOptions): { readonly text: string; readonly callId: string } {
  const callId = o.callId ?? `${token()}@${o.local.host}`;
  const transport = o.transport ?? 'UDP';
  const sdp = [
    'v=0',
    `o=- 1 1 IN IP4 ${o.local.host}`,
    's=-',
    `c=IN IP4 ${o.local.host}`,
    't=0 0',
    `m=audio ${o.mediaPort ?? 9} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
  const head = [
    `INVITE sip:${o.user}@${o.server.host}:${o.server.port} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${o.local.host}:${o.local.port};branch=z9hG4bK${token()};rport`,
    'Max-Forwards: 70',
    `From: <sip:attacker@${o.local.host}>;tag=${token()}`,
    `To: <sip:${o.user}@${o.server.host}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:attacker@${o.local.host}:${o.local.port}>`,
    `User-Agent: ${o.userAgent ?? 'attack-tool/1.0'}`,
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '',
    '',
  ].join('\r\n');
  return { text: head + sdp, callId };
}

export interface ResponseSummary {
  readonly status: number;
  readonly firstLine: string;
  readonly headers: ReadonlyMap<string, string>;
}

function summarise(text: string): { callId: string; response: ResponseSummary } | undefined {
  const lines = text.split('\r\n');
  const m = /^SIP\/2\.0 (\d{3}) /.exec(lines[0] ?? '');
  if (m === null) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const callId = headers.get('call-id') ?? headers.get('i') ?? '';
  return { callId, response: { status: Number(m[1]), firstLine: lines[0] ?? '', headers } };
}

/** A UDP socket that sends requests and files every response it gets by Call-ID. It never sends ACK. */
export class UdpAttacker {
  private readonly socket = dgram.createSocket('udp4');
  /** Call-ID → responses in arrival order (retransmissions included). */
  readonly responses = new Map<string, ResponseSummary[]>();
  private waiters: (() => void)[] = [];

  private constructor(readonly host: string) {
    this.socket.on('message', (data) => {
      const s = summarise(data.toString('latin1'));
      if (s === undefined) return;
      const list = this.responses.get(s.callId) ?? [];
      list.push(s.response);
      this.responses.set(s.callId, list);
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    });
  }

  static async bind(host: string): Promise<UdpAttacker> {
    const a = new UdpAttacker(host);
    await new Promise<void>((resolve, reject) => {
      a.socket.once('error', reject);
      a.socket.bind(0, host, () => resolve());
    });
    return a;
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(text: string, server: { readonly host: string; readonly port: number }): void {
    this.socket.send(text, server.port, server.host);
  }

  /** The first final (≥ 200) response for a Call-ID, if one arrived. */
  final(callId: string): ResponseSummary | undefined {
    return this.responses.get(callId)?.find((r) => r.status >= 200);
  }

  /** Resolves when `done()` holds, or after `timeoutMs` (resolves false then). Event driven, no polling. */
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return true;
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(done()), timeoutMs);
      const check = (): void => {
        if (done()) {
          clearTimeout(timer);
          resolve(true);
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /**
   * Sends `count` INVITEs (never ACKed), `perTick` every `tickMs`: a bounded flood. Returns their Call-IDs.
   */
  async floodInvites(o: {
    readonly count: number;
    readonly perTick: number;
    readonly tickMs: number;
    readonly server: { readonly host: string; readonly port: number };
    readonly user: (i: number) => string;
    readonly userAgent?: string;
  }): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < o.count; i++) {
      const invite = rawInvite({
        user: o.user(i),
        server: o.server,
        local: { host: this.host, port: this.port },
        ...(o.userAgent === undefined ? {} : { userAgent: o.userAgent }),
      });
      ids.push(invite.callId);
      this.send(invite.text, o.server);
      if ((i + 1) % o.perTick === 0) await new Promise((r) => setTimeout(r, o.tickMs));
    }
    return ids;
  }

  /** Final statuses of these calls, counted by status (no final yet: key 0). */
  tally(callIds: readonly string[]): Map<number, number> {
    const out = new Map<number, number>();
    for (const id of callIds) {
      const status = this.final(id)?.status ?? 0;
      out.set(status, (out.get(status) ?? 0) + 1);
    }
    return out;
  }

  close(): void {
    this.socket.close();
  }
}

/** One TCP connection from the attacker: was it accepted, what did it write, and is it closed yet. */
export interface TcpProbe {
  readonly socket: net.Socket;
  /** Bytes written through `write` before the connection closed. */
  bytesWritten(): number;
  write(bytes: Buffer): void;
  /** Resolves when the connection is closed (by either side). */
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

/** Wraps a connected (or connecting) socket, TCP or TLS, as a probe. */
export function probe(socket: net.Socket): TcpProbe {
  let closed = false;
  let written = 0;
  const closedP = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  socket.on('error', () => undefined);
  return {
    socket,
    bytesWritten: () => written,
    write: (bytes) => {
      if (closed || socket.destroyed) return;
      written += bytes.length;
      socket.write(bytes);
    },
    closed: closedP,
    isClosed: () => closed,
  };
}

/** Opens `count` connections from `localAddress`, one after another; resolves once each has connected or failed. */
export async function openTcp(o: {
  readonly host: string;
  readonly port: number;
  readonly localAddress: string;
  readonly count: number;
}): Promise<TcpProbe[]> {
  const probes: TcpProbe[] = [];
  for (let i = 0; i < o.count; i++) {
    const socket = net.connect({ host: o.host, port: o.port, localAddress: o.localAddress });
    probes.push(probe(socket));
    await new Promise<void>((resolve) => {
      socket.once('connect', () => resolve());
      socket.once('close', () => resolve());
    });
  }
  return probes;
}

/**
 * Writes `text` one byte every `intervalMs` on each open probe, until the server closes it or `text` runs out.
 * Bounded by `text.length` ticks.
 */
export async function drip(probes: readonly TcpProbe[], text: string, intervalMs: number): Promise<void> {
  const bytes = Buffer.from(text, 'latin1');
  for (let i = 0; i < bytes.length; i++) {
    const open = probes.filter((p) => !p.isClosed());
    if (open.length === 0) return;
    for (const p of open) p.write(bytes.subarray(i, i + 1));
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Closes every probe this side still holds. */
export function closeAll(probes: readonly TcpProbe[]): void {
  for (const p of probes) p.socket.destroy();
}
