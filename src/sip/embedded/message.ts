/**
 * SIP message model (RFC 3261 §7). Header names are matched case-insensitively and compact forms (§7.3.3)
 * are expanded to their canonical names, so `headers.get('v')` and `headers.get('Via')` are the same thing.
 * Bodies are bytes: Content-Length always counts bytes, never UTF-16 code units.
 */

/** §7.3.3 compact forms. */
const COMPACT: Readonly<Record<string, string>> = {
  i: 'Call-ID',
  f: 'From',
  t: 'To',
  v: 'Via',
  m: 'Contact',
  l: 'Content-Length',
  c: 'Content-Type',
  k: 'Supported',
  s: 'Subject',
  e: 'Content-Encoding',
  o: 'Event',
  r: 'Refer-To',
  b: 'Referred-By',
  u: 'Allow-Events',
  x: 'Session-Expires',
};

const CANONICAL: ReadonlyMap<string, string> = new Map(
  [
    'Call-ID',
    'From',
    'To',
    'Via',
    'Contact',
    'Content-Length',
    'Content-Type',
    'Supported',
    'Subject',
    'Content-Encoding',
    'Event',
    'Refer-To',
    'Referred-By',
    'Allow-Events',
    'Session-Expires',
    'Min-SE',
    'CSeq',
    'Max-Forwards',
    'Route',
    'Record-Route',
    'Allow',
    'Accept',
    'Require',
    'Unsupported',
    'User-Agent',
    'Server',
    'WWW-Authenticate',
    'Proxy-Authenticate',
    'Authorization',
    'Proxy-Authorization',
    'Subscription-State',
    'Warning',
    'Reason',
  ].map((name) => [name.toLowerCase(), name]),
);

/** Canonical spelling of a header name (compact forms expanded, known names normalised). */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  const compact = COMPACT[lower];
  if (compact !== undefined) return compact;
  return CANONICAL.get(lower) ?? name;
}

/**
 * Headers whose values are comma-separated lists (§7.3.1) and are split into one entry per value at parse
 * time. The auth headers are deliberately absent: their commas separate parameters, not values.
 */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  'via',
  'route',
  'record-route',
  'contact',
  'allow',
  'supported',
  'require',
  'unsupported',
  'accept',
  'allow-events',
]);

interface HeaderEntry {
  readonly name: string;
  readonly key: string;
  value: string;
}

/** An ordered, case-insensitive header list. Order matters for Via, Route and Record-Route (§7.3.1). */
export class SipHeaders {
  private entries: HeaderEntry[] = [];

  /** First value of a header, or undefined. */
  get(name: string): string | undefined {
    const key = canonicalHeaderName(name).toLowerCase();
    return this.entries.find((e) => e.key === key)?.value;
  }

  /** Every value of a header, in order. */
  getAll(name: string): string[] {
    const key = canonicalHeaderName(name).toLowerCase();
    return this.entries.filter((e) => e.key === key).map((e) => e.value);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  count(name: string): number {
    return this.getAll(name).length;
  }

  append(name: string, value: string): this {
    const canonical = canonicalHeaderName(name);
    this.entries.push({ name: canonical, key: canonical.toLowerCase(), value });
    return this;
  }

  /** Insert before the first existing header (a new top Via). */
  prepend(name: string, value: string): this {
    const canonical = canonicalHeaderName(name);
    this.entries.unshift({ name: canonical, key: canonical.toLowerCase(), value });
    return this;
  }

  /** Replace every value of `name` with one value, keeping the position of the first occurrence. */
  set(name: string, value: string): this {
    const canonical = canonicalHeaderName(name);
    const key = canonical.toLowerCase();
    const index = this.entries.findIndex((e) => e.key === key);
    if (index < 0) return this.append(name, value);
    this.entries = this.entries.filter((e, i) => i === index || e.key !== key);
    const entry = this.entries[index];
    if (entry !== undefined) entry.value = value;
    return this;
  }

  /** Replace only the first value (e.g. annotate the top Via with received/rport). */
  setFirst(name: string, value: string): this {
    const key = canonicalHeaderName(name).toLowerCase();
    const entry = this.entries.find((e) => e.key === key);
    if (entry === undefined) return this.append(name, value);
    entry.value = value;
    return this;
  }

  delete(name: string): this {
    const key = canonicalHeaderName(name).toLowerCase();
    this.entries = this.entries.filter((e) => e.key !== key);
    return this;
  }

  clone(): SipHeaders {
    const copy = new SipHeaders();
    for (const e of this.entries) copy.entries.push({ ...e });
    return copy;
  }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const e of this.entries) yield [e.name, e.value];
  }
}

export interface SipRequest {
  readonly kind: 'request';
  readonly method: string;
  uri: string;
  readonly headers: SipHeaders;
  body: Buffer;
}

export interface SipResponse {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
  readonly headers: SipHeaders;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

/** RFC 3261 §21 reason phrases for the statuses we generate. */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  183: 'Session Progress',
  200: 'OK',
  202: 'Accepted',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  406: 'Not Acceptable',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  422: 'Session Interval Too Small',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'Version Not Supported',
  603: 'Decline',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status < 300 ? 'OK' : 'Error');
}

export function bodyText(message: SipMessage): string {
  return message.body.toString('utf8');
}
