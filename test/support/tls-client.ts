/**
 * `openssl s_client` as an independent raw SIP-over-TLS peer (the Debian sipp has no TLS): the test writes
 * SIP text to its stdin and reads what the server sends back from its stdout. OpenSSL does the handshake and
 * the certificate checks (`-verify_return_error`, `-verify_ip`), so a test learns what a stock TLS client
 * thinks of the server's certificate; `peerSerial()` reads the certificate the server presented.
 */
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { PeerProcess } from './peer-process.js';

export interface TlsClientOptions {
  readonly port: number;
  readonly host?: string;
  /** CA file the server certificate must chain to (verification failures end the handshake). */
  readonly caFile?: string;
  /** Client certificate and key for mutual TLS. */
  readonly cert?: string;
  readonly key?: string;
}

/** A SIP message read off the connection. */
export interface WireMessage {
  readonly startLine: string;
  /** Response status, or undefined for a request. */
  readonly status: number | undefined;
  /** Request method, or undefined for a response. */
  readonly method: string | undefined;
  /** Header lines as sent (name: value). */
  readonly headers: readonly string[];
  readonly body: string;
  header(name: string): string | undefined;
}

const START = /^(?:SIP\/2\.0 (\d{3}) .*|([A-Z]+) \S+ SIP\/2\.0)$/;

/** Every complete SIP message in `text` (s_client's own session output is skipped). */
export function sipMessages(text: string): WireMessage[] {
  // s_client prints session tickets as they arrive: a SIP start line may follow its text on the same line.
  const lines = text.split(/\r?\n/).map((line) => {
    const at = line.search(/SIP\/2\.0 \d{3} |[A-Z]+ sips?:\S+ SIP\/2\.0$/);
    return at > 0 ? line.slice(at) : line;
  });
  const out: WireMessage[] = [];
  let i = 0;
  while (i < lines.length) {
    const m = START.exec(lines[i] ?? '');
    if (m === null) {
      i++;
      continue;
    }
    const headers: string[] = [];
    let j = i + 1;
    while (j < lines.length && (lines[j] ?? '') !== '') headers.push(lines[j++] ?? '');
    if (j >= lines.length) break; // not complete yet
    const lengthLine = headers.find((h) => /^(content-length|l)\s*:/i.test(h));
    const length = lengthLine === undefined ? 0 : Number(lengthLine.split(':')[1]?.trim() ?? '0');
    let body = '';
    j++;
    while (body.length < length && j < lines.length) body += `${lines[j++] ?? ''}\r\n`;
    if (body.length < length) break;
    const startLine = lines[i] ?? '';
    out.push({
      startLine,
      status: m[1] === undefined ? undefined : Number(m[1]),
      method: m[2],
      headers,
      body,
      header(name) {
        const re = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'i');
        for (const h of headers) {
          const hit = re.exec(h);
          if (hit !== null) return hit[1];
        }
        return undefined;
      },
    });
    i = j;
  }
  return out;
}

export class TlsClient {
  readonly process: PeerProcess;

  constructor(options: TlsClientOptions) {
    const host = options.host ?? '127.0.0.1';
    const args = ['s_client', '-connect', `${host}:${options.port}`, '-nocommands'];
    if (options.caFile !== undefined)
      args.push('-CAfile', options.caFile, '-verify_return_error', '-verify_ip', host);
    if (options.cert !== undefined) args.push('-cert', options.cert);
    if (options.key !== undefined) args.push('-key', options.key);
    this.process = new PeerProcess({ command: 'openssl', args, cwd: tmpdir() });
  }

  /** Resolves once the handshake is done (s_client printed its verdict on the server certificate). */
  async connected(timeoutMs = 15_000): Promise<number> {
    const m = await this.process.waitFor(/Verify return code: (\d+)/, timeoutMs);
    return Number(m[1]);
  }

  /** The serial of the certificate the server presented (upper-case hex). */
  peerSerial(): string {
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(this.process.output());
    if (pem === null) throw new Error(`no server certificate in s_client output\n${this.process.tail()}`);
    return new X509Certificate(pem[0]).serialNumber.toUpperCase();
  }

  /** Send SIP text as is (lines must end in CRLF). */
  write(text: string): void {
    this.process.write(text);
  }

  messages(): WireMessage[] {
    return sipMessages(this.process.output());
  }

  /** Waits (bounded) for the first message `match` accepts. */
  async waitForMessage(match: (m: WireMessage) => boolean, timeoutMs = 15_000): Promise<WireMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages().find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline || !this.process.running)
        throw new Error(`no matching SIP message within ${timeoutMs} ms\n${this.process.tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Ends stdin: s_client sends what it was given, then close_notify, and exits (so a response written just
   * before, such as the 200 to a BYE, reaches the server rather than dying with a killed process).
   */
  async close(): Promise<void> {
    this.process.endInput();
    const exited = await Promise.race([
      this.process.exited.then(() => true),
      new Promise<false>((resolve) => setTimeout(resolve, 2000, false).unref()),
    ]);
    if (!exited) await this.process.stop(1000);
  }
}
