import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** Addresses a webhook may not reach unless the profile allows it (SSRF protection). */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  // IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as the IPv4 address it carries.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return isPrivateAddress(mapped[1]);
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family === 6) return PRIVATE.check(address, 'ipv6');
  return true;
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

const MAX_BODY_BYTES = 64 * 1024;

/**
 * POST the tool arguments as JSON to the tenant URL with a timeout and return the response body for the
 * model. Private and loopback destinations are refused unless the profile allows them. Never throws.
 */
export async function callWebhook(call: WebhookCall, resolve: Resolve = dnsResolve): Promise<WebhookResult> {
  let url: URL;
  try {
    url = new URL(call.url);
  } catch {
    return { ok: false, error: 'invalid webhook URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { ok: false, error: 'webhook URL must be http(s)' };
  if (!call.allowPrivate) {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: string[];
    try {
      addresses = isIP(host) !== 0 ? [host] : await resolve(host);
    } catch {
      return { ok: false, error: `cannot resolve ${host}` };
    }
    if (addresses.length === 0 || addresses.some(isPrivateAddress)) {
      return { ok: false, error: 'webhook destination is a private or loopback address' };
    }
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), call.timeoutMs);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'switchboard-webhook/1' },
      body: JSON.stringify({ ...call.args, _switchboard: call.context }),
      signal: controller.signal,
      redirect: 'error',
    });
    const text = (await res.text()).slice(0, MAX_BODY_BYTES);
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Plain text is fine: the model reads it as is.
    }
    if (!res.ok) return { ok: false, error: `webhook answered HTTP ${res.status}: ${text.slice(0, 200)}` };
    return { ok: true, status: res.status, body };
  } catch (err) {
    const aborted = controller.signal.aborted;
    return {
      ok: false,
      error: aborted
        ? `webhook timed out after ${call.timeoutMs} ms`
        : `webhook failed: ${(err as Error).message}`,
    };
  } finally {
    clearTimeout(timer);
  }
}
