import type { NameAddr } from '../signaling.js';

/**
 * Parse a From/To/Contact value: `"Alice" <sip:alice@example.com>;tag=1` or `sip:bob@host;tag=2`.
 * Lenient by design: drachtio-server has already validated the message.
 */
export function parseNameAddr(value: string | undefined): NameAddr {
  const raw = (value ?? '').trim();
  let displayName: string | undefined;
  let uri: string;
  let params: string;
  const angle = /^(.*?)<([^>]*)>(.*)$/.exec(raw);
  if (angle) {
    const name = (angle[1] ?? '').trim().replace(/^"(.*)"$/, '$1');
    if (name !== '') displayName = name;
    uri = angle[2] ?? '';
    params = angle[3] ?? '';
  } else {
    // RFC 3261 §20.10: without angle brackets, parameters after ';' belong to the header, not the URI.
    const semi = raw.indexOf(';');
    uri = semi === -1 ? raw : raw.slice(0, semi);
    params = semi === -1 ? '' : raw.slice(semi);
  }
  const tag = /;\s*tag=([^;\s]+)/i.exec(params)?.[1];
  const m = /^(?:sips?|tel):(?:([^@;?]*)@)?([^;?:>]*)/i.exec(uri);
  const isTel = /^tel:/i.test(uri);
  const user = isTel ? (m?.[2] ?? '') : decodeURIComponentSafe(m?.[1] ?? '');
  const host = isTel ? '' : (m?.[2] ?? '');
  return {
    uri,
    user,
    host,
    ...(displayName !== undefined ? { displayName } : {}),
    ...(tag !== undefined ? { tag } : {}),
  };
}

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
