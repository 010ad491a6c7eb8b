/**
 * Header value grammar (RFC 3261 §19.1 URIs, §20 header fields, §25 ABNF): comma lists, parameters,
 * name-addr / addr-spec, Via and CSeq. Every function returns undefined on bad input instead of throwing.
 */

export type Params = Map<string, string | undefined>;

export interface SipUri {
  readonly scheme: 'sip' | 'sips' | 'tel';
  readonly user: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly params: Params;
}

export interface ParsedNameAddr {
  readonly displayName: string | undefined;
  /** The URI without the angle brackets. */
  readonly uri: string;
  /** Header parameters (tag, expires, …), i.e. the ones outside the angle brackets. */
  readonly params: Params;
}

export interface ParsedVia {
  readonly protocol: string;
  readonly transport: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly params: Params;
}

/** The §10 branch magic cookie: branches starting with it are RFC 3261 transaction ids. */
export const MAGIC_COOKIE = 'z9hG4bK';

/**
 * Split on `separator` outside double quotes (with backslash escapes) and angle brackets, so that
 * `"Doe, John" <sip:a@b>, <sip:c@d;x=1,2>` gives two values (§7.3.1).
 */
export function splitOutside(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let angle = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (quoted) {
      current += ch;
      if (ch === '\\' && i + 1 < value.length) current += value[++i] as string;
      else if (ch === '"') quoted = false;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === '<') angle++;
    else if (ch === '>' && angle > 0) angle--;
    if (ch === separator && angle === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts;
}

/** Comma-separated header list values, trimmed, empties dropped. */
export function splitList(value: string): string[] {
  return splitOutside(value, ',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return value;
}

/** `;a=1;b;c="x y"` → Map (names lower-cased, quotes removed). */
export function parseParams(value: string): Params {
  const params: Params = new Map();
  for (const raw of splitOutside(value, ';')) {
    const part = raw.trim();
    if (part.length === 0) continue;
    const eq = part.indexOf('=');
    if (eq < 0) params.set(part.toLowerCase(), undefined);
    else params.set(part.slice(0, eq).trim().toLowerCase(), unquote(part.slice(eq + 1).trim()));
  }
  return params;
}

export function formatParams(params: Params): string {
  let out = '';
  for (const [name, value] of params) out += value === undefined ? `;${name}` : `;${name}=${value}`;
  return out;
}

const HOST_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;

/** `host[:port]` with IPv6 references in brackets. */
export function parseHostPort(value: string): { host: string; port: number | undefined } | undefined {
  const m = HOST_RE.exec(value.trim());
  if (m === null) return undefined;
  const host = m[1] as string;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { host, port };
}

/** §19.1.1 `sip:user:password@host:port;uri-params?headers`. */
export function parseUri(value: string): SipUri | undefined {
  const text = value.trim();
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const scheme = text.slice(0, colon).toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips' && scheme !== 'tel') return undefined;
  let rest = text.slice(colon + 1);
  if (scheme === 'tel') {
    const q = rest.indexOf('?');
    if (q >= 0) rest = rest.slice(0, q);
    const semi = rest.indexOf(';');
    const number = semi < 0 ? rest : rest.slice(0, semi);
    if (number.length === 0) return undefined;
    return {
      scheme,
      user: number,
      host: '',
      port: undefined,
      params: parseParams(semi < 0 ? '' : rest.slice(semi)),
    };
  }
  // §25.1: userinfo may hold ';', '?' and ',' (RFC 4475 §3.1.1.2) but a raw '@' can appear neither in
  // uri-parameters nor in headers, so the last '@' ends the userinfo; only then do '?' headers start.
  const at = rest.lastIndexOf('@');
  let user = '';
  if (at >= 0) {
    user = rest.slice(0, at);
    const pw = user.indexOf(':');
    if (pw >= 0) user = user.slice(0, pw);
    rest = rest.slice(at + 1);
  }
  const q = rest.indexOf('?');
  if (q >= 0) rest = rest.slice(0, q);
  const semi = rest.indexOf(';');
  const hostPort = parseHostPort(semi < 0 ? rest : rest.slice(0, semi));
  if (hostPort === undefined) return undefined;
  return {
    scheme,
    user: safeDecode(user),
    host: hostPort.host,
    port: hostPort.port,
    params: parseParams(semi < 0 ? '' : rest.slice(semi)),
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * §20.10 name-addr (`"Name" <uri>;params`) or addr-spec (`uri;params`). In the addr-spec form the
 * semicolon parameters belong to the header, not the URI.
 */
export function parseNameAddr(value: string): ParsedNameAddr | undefined {
  const text = value.trim();
  const lt = indexOutsideQuotes(text, '<');
  if (lt >= 0) {
    const gt = text.indexOf('>', lt);
    if (gt < 0) return undefined;
    const uri = text.slice(lt + 1, gt).trim();
    if (parseUri(uri) === undefined) return undefined;
    const name = text.slice(0, lt).trim();
    return {
      displayName: name.length > 0 ? unquote(name) : undefined,
      uri,
      params: parseParams(text.slice(gt + 1)),
    };
  }
  const semi = text.indexOf(';');
  const uri = semi < 0 ? text : text.slice(0, semi);
  if (parseUri(uri) === undefined) return undefined;
  return { displayName: undefined, uri, params: parseParams(semi < 0 ? '' : text.slice(semi)) };
}

function indexOutsideQuotes(text: string, needle: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted && ch === '\\') i++;
    else if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === needle) return i;
  }
  return -1;
}

/** §20.42 `SIP/2.0/UDP host:port;branch=z9hG4bK…;rport`. */
export function parseVia(value: string): ParsedVia | undefined {
  const m =
    /^\s*([A-Za-z0-9.!%*_+`'~-]+\s*\/\s*[A-Za-z0-9.!%*_+`'~-]+)\s*\/\s*([A-Za-z0-9.!%*_+`'~-]+)\s+([^;\s]+)\s*(.*)$/s.exec(
      value,
    );
  if (m === null) return undefined;
  const hostPort = parseHostPort(m[3] as string);
  if (hostPort === undefined) return undefined;
  const params = parseParams(m[4] as string);
  const raw = (m[4] as string).trim();
  if (raw.length > 0 && !raw.startsWith(';')) return undefined;
  return {
    protocol: (m[1] as string).replace(/\s+/g, '').toUpperCase(),
    transport: (m[2] as string).toUpperCase(),
    host: hostPort.host,
    port: hostPort.port,
    params,
  };
}

export function formatVia(via: ParsedVia): string {
  const port = via.port === undefined ? '' : `:${via.port}`;
  return `${via.protocol}/${via.transport} ${via.host}${port}${formatParams(via.params)}`;
}

/** §20.16 `4711 INVITE`. */
export function parseCSeq(value: string): { seq: number; method: string } | undefined {
  const m = /^\s*(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)\s*$/.exec(value);
  if (m === null) return undefined;
  const seq = Number(m[1]);
  if (seq > 2 ** 31 - 1) return undefined;
  return { seq, method: m[2] as string };
}

/** Host with brackets removed (for socket APIs). */
export function socketHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Host formatted for a URI or Via (IPv6 literals bracketed). */
export function uriHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
