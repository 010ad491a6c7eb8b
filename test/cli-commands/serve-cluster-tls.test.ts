/** `serve --instances` with SIP over TLS: refused with the variable named (the TLS port cannot be shared). */
import { describe, expect, it } from 'vitest';
import { planInstances } from '../../src/cli-commands/serve-cluster.js';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';

const base = { SIP_PORT: '5060', RTP_PORT_MIN: '20000', RTP_PORT_MAX: '20999', HTTP_PORT: '8080' };

describe('planInstances and TLS', () => {
  it('refuses tls with more than one instance, naming SIP_TRANSPORTS', () => {
    const config = loadConfig({
      ...base,
      SIP_TRANSPORTS: 'udp,tls',
      SIP_TLS_CERT: '/c.pem',
      SIP_TLS_KEY: '/k.pem',
    });
    let caught: unknown;
    try {
      planInstances(config, 2);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe('SIP_TRANSPORTS');
    expect(planInstances(config, 1)).toHaveLength(1);
  });

  it('still plans udp/tcp instances', () => {
    expect(
      planInstances(loadConfig({ ...base, SIP_TRANSPORTS: 'udp,tcp' }), 2).map((p) => p.sipPort),
    ).toEqual([5060, 5061]);
  });
});
