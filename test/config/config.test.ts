import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.SIP_HOST).toBe('0.0.0.0');
    expect(c.SIP_PORT).toBe(5060);
    expect(c.SIP_TRANSPORTS).toEqual(['udp', 'tcp']);
    expect(c.RTP_PORT_MIN).toBe(20000);
    expect(c.RTP_PORT_MAX).toBe(30000);
    expect(c.HTTP_HOST).toBe('0.0.0.0');
    expect(c.HTTP_PORT).toBe(8080);
    expect(c.SIGNALING).toBe('embedded');
    expect(c.REDIS_URL).toBeUndefined();
    expect(c.DATA_DIR).toBe('./data');
    expect(c.DIALPLANS_DIR).toBe('./dialplans');
    expect(c.RECORDINGS_DIR).toBe('./recordings');
    expect(c.LOG_LEVEL).toBe('info');
    expect(c.SIP_PUBLIC_HOST).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });

  it('defines every variable other tools rely on', () => {
    for (const name of [
      'SIP_HOST',
      'SIP_PORT',
      'SIP_TRANSPORTS',
      'SIP_PUBLIC_HOST',
      'RTP_PORT_MIN',
      'RTP_PORT_MAX',
      'HTTP_HOST',
      'HTTP_PORT',
      'SIGNALING',
      'DRACHTIO_HOST',
      'DRACHTIO_PORT',
      'DRACHTIO_SECRET',
      'REDIS_URL',
      'DATA_DIR',
      'DIALPLANS_DIR',
      'RECORDINGS_DIR',
      'ADMIN_TOKEN',
      'MASTER_KEY',
      'LOG_LEVEL',
    ]) {
      expect(CONFIG_VARIABLES).toContain(name);
    }
  });

  it('derives the instance TTL from the heartbeat (3 beats) unless given', () => {
    expect(loadConfig({ CLUSTER_HEARTBEAT_MS: '400' }).CLUSTER_INSTANCE_TTL_MS).toBe(1200);
    expect(loadConfig({}).CLUSTER_INSTANCE_TTL_MS).toBe(15_000);
    expect(loadConfig({ CLUSTER_INSTANCE_TTL_MS: '10000' }).CLUSTER_INSTANCE_TTL_MS).toBe(10_000);
  });

  it('is frozen', () => {
    const c = loadConfig({ SIP_PORT: '5070' });
    expect(c.SIP_PORT).toBe(5070);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('parses transports and treats empty strings as unset', () => {
    expect(loadConfig({ SIP_TRANSPORTS: 'TCP, udp,tcp' }).SIP_TRANSPORTS).toEqual(['tcp', 'udp']);
    expect(loadConfig({ SIP_PORT: '' }).SIP_PORT).toBe(5060);
    const tls = loadConfig({ SIP_TRANSPORTS: 'udp,tls', SIP_TLS_CERT: '/c.pem', SIP_TLS_KEY: '/k.pem' });
    expect(tls.SIP_TRANSPORTS).toEqual(['udp', 'tls']);
    expect(tls.SIP_TLS_PORT).toBe(5061);
    expect(tls.SIP_TLS_VERIFY_CLIENT).toBe('none');
  });

  it.each([
    [{ SIP_PORT: 'abc' }, 'SIP_PORT'],
    [{ SIP_PORT: '70000' }, 'SIP_PORT'],
    [{ SIP_TRANSPORTS: 'udp,sctp' }, 'SIP_TRANSPORTS'],
    [{ SIGNALING: 'asterisk' }, 'SIGNALING'],
    [{ SIGNALING: 'drachtio' }, 'DRACHTIO_HOST'],
    [{ RTP_PORT_MIN: '30000', RTP_PORT_MAX: '20000' }, 'RTP_PORT_MIN'],
    [{ MASTER_KEY: 'c2hvcnQ=' }, 'MASTER_KEY'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ CLUSTER_HEARTBEAT_MS: '1000', CLUSTER_INSTANCE_TTL_MS: '1500' }, 'CLUSTER_INSTANCE_TTL_MS'],
    [{ SIP_TRANSPORTS: 'udp,tls' }, 'SIP_TLS_CERT'],
    [{ SIP_TRANSPORTS: 'tls', SIP_TLS_CERT: '/x/cert.pem' }, 'SIP_TLS_KEY'],
    [{ SIP_TLS_VERIFY_CLIENT: 'require' }, 'SIP_TLS_CA'],
    [{ SIP_TLS_VERIFY_CLIENT: 'sometimes' }, 'SIP_TLS_VERIFY_CLIENT'],
    [{ RTCP: 'yes' }, 'RTCP'],
    [{ RTCP_INTERVAL_MS: '100' }, 'RTCP_INTERVAL_MS'],
    [{ RTCP_INTERVAL_MS: 'often' }, 'RTCP_INTERVAL_MS'],
  ])('rejects %o naming %s', (env, variable) => {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(variable);
    expect((caught as ConfigError).message).toContain(variable);
  });

  it('accepts a valid master key and redis url', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const c = loadConfig({ MASTER_KEY: key, REDIS_URL: 'redis://127.0.0.1:6379/0' });
    expect(c.MASTER_KEY).toBe(key);
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379/0');
  });

  it('parses DNS_SERVERS as IP[:port] entries and refuses names', () => {
    expect(loadConfig({}).DNS_SERVERS).toBeUndefined();
    expect(loadConfig({ DNS_SERVERS: '127.0.0.130:53053, [::1]:5353,10.0.0.1' }).DNS_SERVERS).toEqual([
      { address: '127.0.0.130', port: 53053 },
      { address: '::1', port: 5353 },
      { address: '10.0.0.1', port: 53 },
    ]);
    for (const bad of ['dns.example.com', '127.0.0.1:0', '300.1.1.1', '127.0.0.1:99999', ',']) {
      expect(() => loadConfig({ DNS_SERVERS: bad }), bad).toThrow(/DNS_SERVERS/);
    }
    expect(loadConfig({}).SIP_FAILOVER_TIMEOUT_MS).toBe(4000);
  });

  it('RTCP defaults: on, 5 s mean interval', () => {
    expect(loadConfig({})).toMatchObject({ RTCP: 'on', RTCP_INTERVAL_MS: 5000 });
    expect(loadConfig({ RTCP: 'off', RTCP_INTERVAL_MS: '2000' })).toMatchObject({
      RTCP: 'off',
      RTCP_INTERVAL_MS: 2000,
    });
  });
});
