/**
 * RFC 3261 §7 / §25 message parser. Works on bytes: the header section is decoded as UTF-8, the body stays a
 * Buffer sliced by Content-Length bytes. Never throws; bad input becomes `{ ok: false }`, with the partly
 * parsed message attached when the start line and headers were readable (so the caller can still answer 400).
 */
import { LIST_HEADERS, SipHeaders, canonicalHeaderName, type SipMessage } from './message.js';
import { splitList } from './syntax.js';

export const MAX_MESSAGE_BYTES = 64 * 1024;
const MAX_HEADERS = 256;

export type ParseResult =
  | { readonly ok: true; readonly message: SipMessage }
  | { readonly ok: false; readonly error: string; readonly message?: SipMessage };

/** The error of a request whose start line names a SIP version other than 2.0 (answered 505, §8.2). */
export const VERSION_ERROR = 'unsupported SIP version';

export interface ParseOptions {
  /** Stream transports (TCP) frame by Content-Length before parsing; datagrams may carry trailing bytes. */
  readonly stream?: boolean;
  readonly maxBytes?: number;
}

const TOKEN_RE = /^[A-Za-z0-9.!%*_+`'~-]+$/;
const REQUEST_LINE_RE = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/(\d+\.\d+)$/;
/** A start line that is recognisably a request but breaks §25.1 (extra SP, LWS in the URI, trailing SP). */
const LOOSE_REQUEST_LINE_RE = /^([A-Za-z0-9.!%*_+`'~-]+)\s+(.*?)\s*SIP\/\d+\.\d+\s*$/;
// §25.1: Status-Code is exactly 3 digits followed by SP (RFC 4475 §3.1.2.19: 4294967301 is not "429").
const STATUS_LINE_RE = /^SIP\/2\.0 (\d{3})(?: (.*))?$/;

/** Index of the blank line ending the headers and the length of the separator, or undefined. */
export function findHeaderEnd(buf: Buffer, from = 0): { index: number; length: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n', from, 'latin1');
  const lf = buf.indexOf('\n\n', from, 'latin1');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { index: crlf, length: 4 };
  if (lf >= 0) return { index: lf, length: 2 };
  return undefined;
}

/** Parse one complete SIP message. */
export function parseMessage(buf: Buffer, options: ParseOptions = {}): ParseResult {
  try {
    return parseUnsafe(buf, options);
  } catch (err) {
    // Belt and braces: nothing a peer sends may escape as an exception.
    return { ok: false, error: `parser failure: ${err instanceof Error ? err.message : 'unknown'}` };
  }
}

function parseUnsafe(buf: Buffer, options: ParseOptions): ParseResult {
  const maxBytes = options.maxBytes ?? MAX_MESSAGE_BYTES;
  if (buf.length > maxBytes) return { ok: false, error: 'message too large' };
  // §7.5: implementations should ignore CRLFs before the start line (keep-alives, RFC 5626).
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  if (start === buf.length) return { ok: false, error: 'empty message' };
  const end = findHeaderEnd(buf, start);
  if (end === undefined) return { ok: false, error: 'no end of headers' };
  const head = buf.toString('utf8', start, end.index);
  // A NUL is only legal as a quoted-pair inside a quoted string (RFC 4475 §3.1.1.2: `"NUL:\\<00>"`).
  if (/(?<!\\)\0/.test(head)) return { ok: false, error: 'NUL in headers' };
  const rawLines = head.split(/\r?\n/);
  // No trim: SP before CRLF is a malformed start line (RFC 4475 §3.1.2.10).
  const firstLine = rawLines.shift() ?? '';

  // §7.3.1: a line starting with whitespace continues the previous header (folding).
  const lines: string[] = [];
  for (const line of rawLines) {
    if (/^[ \t]/.test(line)) {
      if (lines.length === 0) return { ok: false, error: 'continuation line before first header' };
      lines[lines.length - 1] += ` ${line.trim()}`;
    } else {
      lines.push(line);
    }
  }
  if (lines.length > MAX_HEADERS) return { ok: false, error: 'too many headers' };

  const headers = new SipHeaders();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) return { ok: false, error: 'malformed header line' };
    const name = line.slice(0, colon).trim();
    if (!TOKEN_RE.test(name)) return { ok: false, error: 'malformed header name' };
    const value = line.slice(colon + 1).trim();
    if (LIST_HEADERS.has(canonicalHeaderName(name).toLowerCase()) && value !== '*') {
      const values = splitList(value);
      if (values.length === 0) headers.append(name, '');
      for (const v of values) headers.append(name, v);
    } else {
      headers.append(name, value);
    }
  }

  const bodyStart = end.index + end.length;
  let message: SipMessage;
  const req = REQUEST_LINE_RE.exec(firstLine);
  const loose = req === null ? LOOSE_REQUEST_LINE_RE.exec(firstLine) : null;
  if (req !== null || loose !== null) {
    const m = (req ?? loose) as RegExpExecArray;
    message = {
      kind: 'request',
      method: m[1] as string,
      uri: m[2] as string,
      headers,
      body: Buffer.alloc(0),
    };
    // Hand the partly parsed request up so that it can still be answered (400 / 505).
    if (loose !== null) return { ok: false, error: 'malformed request line', message };
    if (req?.[3] !== '2.0') return { ok: false, error: VERSION_ERROR, message };
  } else {
    const res = STATUS_LINE_RE.exec(firstLine);
    if (res === null) return { ok: false, error: 'malformed start line' };
    const status = Number(res[1]);
    if (status < 100 || status > 699) return { ok: false, error: 'status code out of range' };
    message = { kind: 'response', status, reason: (res[2] ?? '').trim(), headers, body: Buffer.alloc(0) };
  }

  const available = buf.length - bodyStart;
  const lengths = headers.getAll('Content-Length');
  if (lengths.length > 1 && new Set(lengths).size > 1) {
    return { ok: false, error: 'conflicting Content-Length', message };
  }
  const rawLength = lengths[0];
  let length = available;
  if (rawLength !== undefined) {
    if (!/^\d{1,9}$/.test(rawLength)) return { ok: false, error: 'invalid Content-Length', message };
    length = Number(rawLength);
  } else if (options.stream === true) {
    // §18.3: Content-Length is mandatory on stream transports; treat a missing one as an empty body.
    length = 0;
  }
  // §18.3: on datagrams, a body shorter than Content-Length is an error, a longer one is truncated.
  if (length > available) return { ok: false, error: 'Content-Length larger than body', message };
  message.body = Buffer.from(buf.subarray(bodyStart, bodyStart + length));
  return { ok: true, message };
}
