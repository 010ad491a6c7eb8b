import type { LookupAddress, LookupOptions } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { isSpecialAddress } from '../../special-address.js';

/**
 * Addresses a webhook may not reach unless the profile allows it (SSRF protection): everything that is not
 * public unicast, including IPv6 forms that embed an IPv4 address (mapped/compatible, NAT64 64:ff9b::/96,
 * 6to4 2002::/16, Teredo), ULA, link-local, multicast and documentation ranges.
 */
export function isPrivateAddress(address: string): boolean {
  return isSpecialAddress(address);
}

export interface WebhookCall {
  readonly url: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly timeoutMs: number;
  readonly allowPrivate: boolean;
  /** Sent as JSON fields beside the arguments so the tenant can correlate. */
  readonly context: { readonly callId: string; readonly tenant: string; readonly tool: string };
}

export type WebhookResult =
  | { readonly ok: true; readonly status: number; readonly body: unknown }
  | { readonly ok: false; readonly error: string };

/** Resolver injected for tests; defaults to DNS. */
export type Resolve = (host: string) => Promise<string[]>;
const dnsResolve: Resolve = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

export const MAX_WEBHOOK_BODY_BYTES = 64 * 1024;

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for node:http(s) that answers with the address already checked, so the connection goes where
 * the check looked (DNS rebinding: a second resolution could answer 127.0.0.1). Host header and TLS SNI
 * still carry the name, because only the socket's address comes from here.
 */
function pinnedLookup(address: string): (host: string, o: LookupOptions, cb: LookupCallback) => void {
  const family = isIP(address);
  return (_host, options, callback) => {
    if (options.all === true) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

interface Response {
  readonly status: number;
  readonly text: string;
}

/** POST `body` to the pinned address; the response body is read up to the cap, then the request is aborted. */
function post(url: URL, address: string, body: string, signal: AbortSignal): Promise<Response> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'switchboard-webhook/1',
        },
        lookup: pinnedLookup(address),
        // A fresh connection per call: no pooled socket from another tenant's or an earlier resolution.
        agent: false,
        signal,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > MAX_WEBHOOK_BODY_BYTES) {
            // Stop reading now: a hostile endpoint must not make us buffer (or even receive) more.
            req.destroy();
            reject(new Error(`response larger than ${MAX_WEBHOOK_BODY_BYTES} bytes`));
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
 * POST the tool arguments as JSON to the tenant URL with a timeout and return the response body for the
 * model. The name is resolved once; private and loopback destinations are refused unless the profile
 * allows them, and the connection is made to the address that was checked. Never throws.
 */
export async function callWebhook(
  call: WebhookCall,
  resolve: Resolve = dnsResolve,
  forbidden: (address: string) => boolean = isPrivateAddress,
): Promise<WebhookResult> {
  let url: URL;
  try {
    url = new URL(call.url);
  } catch {
    return { ok: false, error: 'invalid webhook URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { ok: false, error: 'webhook URL must be http(s)' };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) !== 0 ? [host] : await resolve(host);
  } catch {
    return { ok: false, error: `cannot resolve ${host}` };
  }
  const address = addresses[0];
  if (address === undefined) return { ok: false, error: `cannot resolve ${host}` };
  // Every answer must be public: a mixed answer is how rebinding services hand out loopback.
  if (!call.allowPrivate && addresses.some(forbidden)) {
    return { ok: false, error: 'webhook destination is a private or loopback address' };
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), call.timeoutMs);
  try {
    const body = JSON.stringify({ ...call.args, _switchboard: call.context });
    const res = await post(url, address, body, controller.signal);
    let parsed: unknown = res.text;
    try {
      parsed = JSON.parse(res.text);
    } catch {
      // Plain text is fine: the model reads it as is.
    }
    if (res.status < 200 || res.status > 299)
      return { ok: false, error: `webhook answered HTTP ${res.status}: ${res.text.slice(0, 200)}` };
    return { ok: true, status: res.status, body: parsed };
  } catch (err) {
    return {
      ok: false,
      error: controller.signal.aborted
        ? `webhook timed out after ${call.timeoutMs} ms`
        : `webhook failed: ${(err as Error).message}`,
    };
  } finally {
    clearTimeout(timer);
  }
}
