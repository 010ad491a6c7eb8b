import { lookup } from 'node:dns/promises';
import { pinnedPost, resolveTarget, type Resolve } from '../../pinned-post.js';
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

export type { Resolve } from '../../pinned-post.js';
const dnsResolve: Resolve = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

export const MAX_WEBHOOK_BODY_BYTES = 64 * 1024;

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
  const target = await resolveTarget(call.url, { allowPrivate: call.allowPrivate, resolve, forbidden });
  if (!target.ok) return target;
  const { url, address } = target;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), call.timeoutMs);
  try {
    const body = JSON.stringify({ ...call.args, _switchboard: call.context });
    const res = await pinnedPost(url, address, body, {
      signal: controller.signal,
      maxBodyBytes: MAX_WEBHOOK_BODY_BYTES,
      userAgent: 'switchboard-webhook/1',
    });
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
