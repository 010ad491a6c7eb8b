/**
 * The RFC 4475 §3.1.1 (valid) and §3.1.2 (invalid) parser torture messages, as bytes, each with the handling
 * the RFC expects from a UAS and the answer this server gives. Lines are CRLF-terminated; the RFC's
 * <allOneLine>, <hex> and <repeat> notations are expanded. Deviation: §3.1.1.11 (mpart01) carries a binary
 * DER blob the text rendering of the RFC cannot reproduce byte for byte; it is replaced by binary octets of
 * the same kind (bare LFs, NULs, bytes ≥ 0x80) and its Content-Length computed for them.
 */

export type Expected =
  /** A final response with this status. */
  | { readonly status: number; readonly port?: 5050 }
  /** Nothing sent back; the server counted the message as dropped/absorbed. */
  | { readonly silent: 'parsed' | 'dropped' };

export interface TortureCase {
  readonly name: string;
  readonly section: string;
  readonly valid: boolean;
  /** What RFC 4475 says a receiving UAS should do. */
  readonly rfc: string;
  readonly expected: Expected;
  readonly bytes: Buffer;
  /** For an INVITE answered non-2xx: the Request-URI to ACK. */
  readonly ackUri?: string;
}

export const CRLF = '\r\n';
export const head = (lines: readonly string[]): string => lines.join(CRLF) + CRLF + CRLF;
export const msg = (lines: readonly string[], body = ''): Buffer => Buffer.from(head(lines) + body, 'utf8');
export const r = (s: string, n: number): string => s.repeat(n);

/** The SDP body most messages carry (150 octets with a 9-character address, as in the RFC). */
export function sdp(o: string, c = o, t = '0 0', sLine = true): string {
  return (
    [
      'v=0',
      `o=mhandley 29739 7272939 IN IP4 ${o}`,
      ...(sLine ? ['s=-'] : []),
      `c=IN IP4 ${c}`,
      ...(sLine ? [`t=${t}`] : []),
      'm=audio 49217 RTP/AVP 0 12',
      'm=video 3227 RTP/AVP 31',
      'a=rtpmap:31 LPC',
    ].join(CRLF) + CRLF
  );
}

/** The Call-ID of a fixture (its long or compact form), for matching responses. */
export function callIdOf(bytes: Buffer): string {
  const m = /^(?:Call-ID|i)\s*:\s*(.*?)\s*$/im.exec(bytes.toString('latin1'));
  return Buffer.from(m?.[1] ?? '', 'latin1').toString('utf8');
}
