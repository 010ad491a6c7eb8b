import { describe, expect, it } from 'vitest';
import { HttpError } from '../../src/http/errors.js';
import { ProviderUrlPolicy, type HostResolver } from '../../src/http/provider-url-policy.js';
import { isSpecialAddress } from '../../src/special-address.js';

const PUBLIC_V4 = '93.184.215.14';
const PUBLIC_V6 = '2606:2800:21f:cb07:6820:80da:af6b:8b2c';

/** A resolver from a fixed table; unknown names fail like NXDOMAIN. */
function table(entries: Record<string, string[]>): HostResolver {
  return (host) => {
    const found = entries[host];
    return found === undefined ? Promise.reject(new Error('ENOTFOUND')) : Promise.resolve(found);
  };
}

async function verdict(policy: ProviderUrlPolicy, fields: Record<string, unknown>): Promise<string> {
  try {
    await policy.check(fields);
    return 'ok';
  } catch (err) {
    if (err instanceof HttpError) return `${err.statusCode} ${err.message}`;
    throw err;
  }
}

describe('special addresses', () => {
  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '0.0.0.0',
    '10.1.2.3',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.100.100.200',
    '192.0.0.192',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::7f00:1',
    '64:ff9b::7f00:1',
    '2002:7f00:1::',
    '2001:0:4136:e378:8000:63bf:3fff:fdd2',
    'fd00:ec2::254',
    'fe80::1',
    'fe80::1%eth0',
    'ff02::1',
    'not-an-ip',
  ])('%s is special', (address) => {
    expect(isSpecialAddress(address)).toBe(true);
  });

  it.each([PUBLIC_V4, '8.8.8.8', PUBLIC_V6, `[${PUBLIC_V6}]`])('%s is public', (address) => {
    expect(isSpecialAddress(address)).toBe(false);
  });
});

describe('ProviderUrlPolicy (tenant writes)', () => {
  const resolve = table({
    'api.openai.com': [PUBLIC_V4],
    'proxy.example.com': [PUBLIC_V4, PUBLIC_V6],
    'a.b.example.net': [PUBLIC_V4],
    'rebind.example.com': [PUBLIC_V4, '127.0.0.1'],
    'internal.example.com': ['10.0.0.5'],
    'meta.example.com': ['::ffff:169.254.169.254'],
  });
  const policy = new ProviderUrlPolicy({
    allow: [
      'proxy.example.com',
      '*.example.net:8443',
      'rebind.example.com',
      'internal.example.com',
      'meta.example.com',
      PUBLIC_V4,
    ],
    resolve,
  });

  it('accepts the official endpoints and allowlisted public hosts over wss', async () => {
    expect(await verdict(policy, { url: 'wss://api.openai.com/v1/realtime' })).toBe('ok');
    expect(await verdict(policy, { url: 'wss://proxy.example.com/rt' })).toBe('ok');
    expect(await verdict(policy, { url: 'wss://a.b.example.net:8443/' })).toBe('ok');
    expect(await verdict(policy, { url: `wss://${PUBLIC_V4}/x` })).toBe('ok');
    expect(await verdict(policy, { apiKey: 'k' })).toBe('ok');
  });

  it('refuses ws:// and other schemes, user info, and hosts or ports not on the list', async () => {
    expect(await verdict(policy, { url: 'ws://api.openai.com/v1/realtime' })).toMatch(/^422 .*wss:/);
    expect(await verdict(policy, { url: 'https://api.openai.com/' })).toMatch(/^422 .*wss:/);
    expect(await verdict(policy, { url: 'wss://u:p@proxy.example.com/' })).toMatch(/^422 .*user info/);
    expect(await verdict(policy, { url: 'wss://evil.example.org/' })).toMatch(/^422 .*not an allowed/);
    expect(await verdict(policy, { url: 'wss://proxy.example.com:8443/' })).toMatch(/^422 .*not an allowed/);
    // A wildcard covers sub-domains only, and only on its port.
    expect(await verdict(policy, { url: 'wss://example.net:8443/' })).toMatch(/^422 .*not an allowed/);
    expect(await verdict(policy, { url: 'wss://a.b.example.net/' })).toMatch(/^422 .*not an allowed/);
    expect(await verdict(policy, { url: 'not a url' })).toMatch(/^400 /);
  });

  it('refuses allowlisted names when any resolved address is special', async () => {
    expect(await verdict(policy, { url: 'wss://rebind.example.com/' })).toMatch(/^422 .*loopback/);
    expect(await verdict(policy, { url: 'wss://internal.example.com/' })).toMatch(/^422 .*private/);
    expect(await verdict(policy, { url: 'wss://meta.example.com/' })).toMatch(/^422 /);
    const loose = new ProviderUrlPolicy({
      allow: ['127.0.0.1:9000', '[::1]', 'nowhere.example.com'],
      resolve,
    });
    expect(await verdict(loose, { url: 'wss://127.0.0.1:9000/' })).toMatch(/^422 .*loopback/);
    expect(await verdict(loose, { url: 'wss://[::1]/' })).toMatch(/^422 .*loopback/);
    expect(await verdict(loose, { url: 'wss://nowhere.example.com/' })).toMatch(/^422 .*does not resolve/);
  });

  it("checks Azure's endpoint host as well as url", async () => {
    expect(await verdict(policy, { endpoint: 'https://proxy.example.com' })).toBe('ok');
    expect(await verdict(policy, { endpoint: 'https://internal.example.com' })).toMatch(/^422 /);
    expect(await verdict(policy, { endpoint: 'http://proxy.example.com' })).toMatch(/^422 .*https:/);
  });

  it('rejects a malformed allowlist entry at startup', () => {
    expect(() => new ProviderUrlPolicy({ allow: ['http://x'] })).toThrow(/PROVIDER_URL_ALLOW/);
  });
});
