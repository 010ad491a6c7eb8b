import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import { HttpError } from './errors.js';
import { isSpecialAddress } from '../special-address.js';

/** Resolves a host name to every address it has (A and AAAA). */
export type HostResolver = (host: string) => Promise<string[]>;

const dnsResolve: HostResolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * The providers' own endpoints, always allowed for tenants (docs/reference/providers.md): a tenant without an
 * operator allowlist can still pick a region of its provider, never anything else.
 */
export const OFFICIAL_PROVIDER_HOSTS: readonly string[] = [
  'api.openai.com',
  '*.openai.azure.com',
  '*.cognitiveservices.azure.com',
  '*.services.ai.azure.com',
  'generativelanguage.googleapis.com',
  'dashscope.aliyuncs.com',
  'dashscope-intl.aliyuncs.com',
];

/** Credential fields that name where the server connects: `url` (a full wss URL), `endpoint` (Azure's host). */
const ENDPOINT_FIELDS: Readonly<Record<string, readonly string[]>> = {
  url: ['wss:'],
  endpoint: ['https:', 'wss:'],
};

interface Pattern {
  readonly host: string;
  readonly wildcard: boolean;
  /** Undefined: the scheme's default port only (443). */
  readonly port: number | undefined;
}

function parsePattern(text: string): Pattern {
  const m = /^(\*\.)?([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/i.exec(text.trim());
  if (m === null) throw new ConfigError('PROVIDER_URL_ALLOW', `"${text}" is not a host[:port] pattern`);
  return {
    wildcard: m[1] !== undefined,
    host: (m[2] ?? '').toLowerCase(),
    port: m[3] === undefined ? undefined : Number(m[3]),
  };
}

function matches(p: Pattern, host: string, port: number): boolean {
  if (port !== (p.port ?? 443)) return false;
  return p.wildcard ? host.endsWith(`.${p.host}`) : host === p.host;
}

const forbidden = (message: string): HttpError => new HttpError(422, 'HTTP_PROVIDER_URL_FORBIDDEN', message);

/**
 * What a tenant key may write into a credential's endpoint fields (issue 11: a tenant pointed its provider
 * at ws:// loopback and metadata addresses — blind SSRF, API key in clear). `wss://` only, host on the
 * official list or the operator's PROVIDER_URL_ALLOW, and every address the name resolves to public
 * unicast. Admin-token writes skip this (operators run proxies and mocks).
 */
export class ProviderUrlPolicy {
  readonly #patterns: readonly Pattern[];
  readonly #resolve: HostResolver;

  /** Throws on a malformed pattern (config is checked at startup). */
  constructor(options: { allow: readonly string[]; resolve?: HostResolver }) {
    this.#patterns = [...OFFICIAL_PROVIDER_HOSTS, ...options.allow].map(parsePattern);
    this.#resolve = options.resolve ?? dnsResolve;
  }

  /** Checks every endpoint field present in `fields`; throws HttpError 422 naming the field. */
  async check(fields: Readonly<Record<string, unknown>>): Promise<void> {
    for (const [field, schemes] of Object.entries(ENDPOINT_FIELDS)) {
      const value = fields[field];
      if (value !== undefined) await this.#checkUrl(field, value, schemes);
    }
  }

  async #checkUrl(field: string, value: unknown, schemes: readonly string[]): Promise<void> {
    let url: URL;
    try {
      url = new URL(String(value));
    } catch {
      throw new HttpError(400, 'HTTP_BAD_REQUEST', `credential "${field}" is not a URL`);
    }
    if (!schemes.includes(url.protocol))
      throw forbidden(`credential "${field}" must use ${schemes.map((s) => `${s}//`).join(' or ')}`);
    if (url.username !== '' || url.password !== '')
      throw forbidden(`credential "${field}" must not carry user info`);
    const host = url.hostname.toLowerCase().replace(/\.$/, '');
    const port = url.port === '' ? 443 : Number(url.port);
    if (!this.#patterns.some((p) => matches(p, host, port)))
      throw forbidden(`credential "${field}" host is not an allowed provider endpoint (PROVIDER_URL_ALLOW)`);
    const literal = host.startsWith('[') ? host.slice(1, -1) : host;
    let addresses: string[];
    if (isIP(literal) !== 0) addresses = [literal];
    else {
      try {
        addresses = await this.#resolve(host);
      } catch {
        throw forbidden(`credential "${field}" host does not resolve`);
      }
    }
    // Every address: a name with one public and one loopback record would otherwise pass half the time.
    if (addresses.length === 0 || addresses.some(isSpecialAddress))
      throw forbidden(
        `credential "${field}" resolves to a loopback, private, link-local or reserved address`,
      );
  }
}
