/**
 * A minimal stub resolver over UDP (RFC 1035 §4.2.1): one question per query, the configured servers tried in
 * order, each once per round, each attempt bounded by a timeout. Answers go through `parseResponse`, which
 * checks the id and the question, so a stray or spoofed datagram is dropped and the query keeps waiting.
 */
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { SwitchboardError } from '../../../errors.js';
import {
  DnsFormatError,
  MAX_MESSAGE_BYTES,
  encodeQuery,
  parseResponse,
  type DnsResponse,
  type QueryType,
} from './dns-message.js';

export interface DnsServer {
  readonly address: string;
  readonly port: number;
}

export class DnsError extends SwitchboardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SIP_DNS', message, options);
  }
}

export interface DnsQuerier {
  query(name: string, type: QueryType): Promise<DnsResponse>;
}

export interface DnsClientOptions {
  readonly servers: readonly DnsServer[];
  /** Per attempt (default 1500 ms). */
  readonly timeoutMs?: number;
  /** Rounds over the server list (default 2). */
  readonly rounds?: number;
}

export class DnsClient implements DnsQuerier {
  readonly #servers: readonly DnsServer[];
  readonly #timeoutMs: number;
  readonly #rounds: number;

  constructor(options: DnsClientOptions) {
    if (options.servers.length === 0) throw new DnsError('dns: no DNS servers configured');
    this.#servers = options.servers;
    this.#timeoutMs = options.timeoutMs ?? 1500;
    this.#rounds = options.rounds ?? 2;
  }

  async query(name: string, type: QueryType): Promise<DnsResponse> {
    let lastError: unknown;
    for (let round = 0; round < this.#rounds; round++) {
      for (const server of this.#servers) {
        try {
          const response = await this.#attempt(server, name, type);
          // SERVFAIL / REFUSED: another server may know better (RFC 1035 §7.3).
          if (response.rcode === 2 || response.rcode === 5) {
            lastError = new DnsError(`dns: ${server.address} answered rcode ${response.rcode} for ${name}`);
            continue;
          }
          return response;
        } catch (err) {
          lastError = err;
        }
      }
    }
    throw lastError instanceof DnsError
      ? lastError
      : new DnsError(`dns: no answer for ${type} ${name}`, { cause: lastError });
  }

  #attempt(server: DnsServer, name: string, type: QueryType): Promise<DnsResponse> {
    const id = randomInt(0, 0x10000);
    const query = encodeQuery(id, name, type);
    return new Promise<DnsResponse>((resolve, reject) => {
      const socket: Socket = createSocket(isIPv6(server.address) ? 'udp6' : 'udp4');
      const done = (err: Error | undefined, value?: DnsResponse): void => {
        clearTimeout(timer);
        socket.removeAllListeners('message');
        socket.close();
        if (err !== undefined) reject(err);
        else if (value !== undefined) resolve(value);
      };
      const timer = setTimeout(
        () => done(new DnsError(`dns: ${server.address}:${server.port} timed out for ${type} ${name}`)),
        this.#timeoutMs,
      );
      socket.on('error', (err) => done(new DnsError(`dns: socket error: ${err.message}`, { cause: err })));
      socket.on('message', (msg, rinfo) => {
        if (rinfo.port !== server.port || msg.length > MAX_MESSAGE_BYTES) return;
        try {
          done(undefined, parseResponse(msg, { id, name, type }));
        } catch (err) {
          // Not ours (wrong id/question) or malformed: keep waiting for the real answer until the timeout.
          if (!(err instanceof DnsFormatError)) done(err as Error);
        }
      });
      socket.send(query, server.port, server.address, (err) => {
        if (err) done(new DnsError(`dns: send failed: ${err.message}`, { cause: err }));
      });
    });
  }
}
