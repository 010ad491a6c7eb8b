/**
 * Stream framing for SIP over TCP (RFC 3261 §18.3): messages are delimited by the header block and
 * Content-Length. One chunk may hold several messages, or a fraction of one. The buffer is bounded: a peer
 * that sends more than `maxBytes` without completing a message is an error and the connection is closed.
 */
import { findHeaderEnd } from './parser.js';

export type FrameResult =
  { readonly ok: true; readonly frames: Buffer[] } | { readonly ok: false; readonly error: string };

const CONTENT_LENGTH_RE = /^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*$/im;

export class StreamFramer {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes: number) {}

  get bufferedBytes(): number {
    return this.buffer.length;
  }

  push(chunk: Buffer): FrameResult {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      // RFC 5626 §3.5.1 keep-alives (CRLFCRLF) and stray CRLFs between messages are skipped.
      let start = 0;
      while (start < this.buffer.length && (this.buffer[start] === 0x0d || this.buffer[start] === 0x0a))
        start++;
      if (start > 0) this.buffer = this.buffer.subarray(start);
      if (this.buffer.length === 0) break;
      const end = findHeaderEnd(this.buffer);
      if (end === undefined) {
        if (this.buffer.length > this.maxBytes) return { ok: false, error: 'header block too large' };
        break;
      }
      const head = this.buffer.toString('latin1', 0, end.index);
      const m = CONTENT_LENGTH_RE.exec(head);
      let length = 0;
      if (m !== null) {
        if (!/^\d{1,9}$/.test(m[1] as string)) return { ok: false, error: 'invalid Content-Length' };
        length = Number(m[1]);
      }
      const total = end.index + end.length + length;
      if (total > this.maxBytes) return { ok: false, error: 'message too large' };
      if (this.buffer.length < total) break;
      frames.push(Buffer.from(this.buffer.subarray(0, total)));
      this.buffer = this.buffer.subarray(total);
    }
    // Do not pin the large chunk the remainder was sliced from.
    if (this.buffer.length > 0) this.buffer = Buffer.from(this.buffer);
    return { ok: true, frames };
  }
}
