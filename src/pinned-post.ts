/**
 * An HTTP(S) POST to an address already checked against the SSRF rules (special-address.ts): the socket goes
 * to that address, so a second DNS answer (rebinding to 127.0.0.1) cannot redirect it, while the Host header
 * and TLS SNI still carry the name. Shared by tool webhooks (call/tools/) and event webhooks (outcomes/).
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { isSpecialAddress } from './special-address.js';

/** Resolves a host name to its addresses (A and AAAA); injected for tests. */
export type Resolve = (host: string) => Promise<string[]>;

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `lookup` for node:http(s) that answers with the address already checked. */
function pinnedLookup(address: string): (host: string, o: LookupOptions, cb: LookupCallback) => void {
  const family = isIP(address);
  return (_host, options, callback) => {
    if (options.all === true) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

export interface PinnedResponse {
  readonly status: number;
  readonly text: string;
}

/**
 * POST `body` as JSON to `url`, connecting to `address`. The response body is read up to `maxBodyBytes`,
 * then the request is aborted (a hostile endpoint must not make us buffer, or even receive, more).
 */
export function pinnedPost(
  url: URL,
  address: string,
  body: string,
  options: {
    readonly signal: AbortSignal;
    readonly maxBodyBytes: number;
    readonly userAgent: string;
    readonly headers?: Readonly<Record<string, string>>;
  },
): Promise<PinnedResponse> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: 'POST',
        headers: {
          ...options.headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': options.userAgent,
        },
        lookup: pinnedLookup(address),
        // A fresh connection per call: no pooled socket from another tenant's or an earlier resolution.
        agent: false,
        signal: options.signal,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > options.maxBodyBytes) {
            req.destroy();
            reject(new Error(`response larger than ${options.maxBodyBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Where an http(s) URL may be POSTed: its parsed form and the one address to connect to, or why not. The
 * name is resolved once; every answer must be public unless `allowPrivate` (a mixed answer is how rebinding
 * services hand out loopback). Never throws.
 */
export async function resolveTarget(
  rawUrl: string,
  options: {
    readonly allowPrivate: boolean;
    readonly resolve: Resolve;
    readonly forbidden?: (address: string) => boolean;
  },
): Promise<
  { readonly ok: true; readonly url: URL; readonly address: string } | { ok: false; error: string }
> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return { ok: false, error: 'invalid webhook URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { ok: false, error: 'webhook URL must be http(s)' };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) !== 0 ? [host] : await options.resolve(host);
  } catch {
    return { ok: false, error: `cannot resolve ${host}` };
  }
  const address = addresses[0];
  if (address === undefined) return { ok: false, error: `cannot resolve ${host}` };
  if (!options.allowPrivate && addresses.some(options.forbidden ?? isSpecialAddress))
    return { ok: false, error: 'webhook destination is a private or loopback address' };
  return { ok: true, url, address };
}
