/**
 * Record-Route through two proxies (RFC 3261 §12.1.1 / §12.2.1.1) on the production server: sipp plays the
 * caller behind two record-routing proxies (it is proxy 1 itself, so in-dialog requests from the server reach
 * it). The server ends the call itself (a session timer the caller never refreshes, SIP_SESSION_MIN_SE=4),
 * and its BYE must carry both Route headers in order, sent to proxy 1, with the caller's Contact as target.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../../support/server.js';
import { describeSipp, runSipp } from '../../support/sipp.js';
import { randomLoopback } from '../embedded/helpers.js';
import { startRfcServer } from './raw-server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startRfcServer({ SIP_SESSION_MIN_SE: '4' });
});
afterAll(async () => {
  await srv.close();
});

describe('Record-Route with two proxies (production server, sipp)', () => {
  it('echoes Record-Route in the 200 and sends its BYE along the route set', async () => {
    const r = await runSipp({
      scenario: 'uac-record-route.xml',
      target: `127.0.0.1:${srv.sipPort}`,
      localIp: randomLoopback(),
      localPort: 20_000 + randomInt(0, 20_000),
      mediaPort: 40_000 + randomInt(0, 10_000) * 2,
      service: '100',
      vars: { se: '4' },
      timeoutMs: 20_000,
    });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const bye = r.messages
      .split(/-{20,}[^\n]*\n/)
      .find((b) => /message received/i.test(b) && /^\s*BYE /m.test(b));
    const routes = (bye ?? '').split(/\r?\n/).filter((l) => /^Route:/i.test(l));
    expect(routes).toHaveLength(2);
    expect(routes[0]).toMatch(/proxy=one>$/);
    expect(routes[1]).toBe('Route: <sip:proxy-two.example.invalid;lr;proxy=two>');
  });
});
