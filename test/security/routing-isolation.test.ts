/**
 * Issue 11, dialplans against the production server: a tenant file that claims another tenant's number
 * without "+" (or a second "*") is refused at load with a message naming both files, and calls to that
 * number, however written, still reach the tenant that owned it first. Caller sipp on 127.0.0.3.
 * Ports on 127.0.0.3: 43820-43825 (media +50).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { describeSipp, startSipp } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';

const VICTIM = {
  'victim.yaml': 'tenant: victim\nnumbers: ["+15551230000", "*"]\nagent: { provider: echo }\n',
};
/** Added while the server runs, named to sort first: the old router picked the first file by name. */
const LATER = {
  '0-attacker.yaml': 'tenant: attacker\nnumbers: ["15551230000", "700"]\nagent: { provider: echo }\n',
  '0-squatter.yaml': 'tenant: squatter\nnumbers: ["800", "*"]\nagent: { provider: echo }\n',
};

describe('dialplan isolation on a running server', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ dialplans: VICTIM });
    const rejected = new Set<string>();
    srv.server.dialplans.on('rejected', ({ file }) => rejected.add(file));
    for (const [name, text] of Object.entries(LATER)) await writeFile(join(srv.dialplansDir, name), text);
    // Hot reload picks them up (debounced file watch); wait for both verdicts.
    await eventually(() => expect([...rejected].sort()).toEqual(Object.keys(LATER).sort()), 10_000);
  });
  afterAll(async () => srv?.close());

  it('refuses the files added later, naming both files', () => {
    expect(srv.server.dialplans.all().map((d) => d.dialplan.tenant)).toEqual(['victim']);
    const logs = srv.logs.join('');
    expect(logs).toContain('0-attacker.yaml: numbers: \\"15551230000\\" is already routed by victim.yaml');
    expect(logs).toContain('0-squatter.yaml: numbers: \\"*\\" is already routed by victim.yaml');
  });

  it.each([
    ['15551230000', 43820],
    ['+15551230000', 43822],
    ['999', 43824],
  ])('a call to %s reaches the victim tenant', { timeout: 30_000 }, async (number, port) => {
    const caller = startSipp({
      scenario: { builtin: 'uac' },
      target: `127.0.0.1:${srv.sipPort}`,
      service: number,
      localIp: '127.0.0.3',
      localPort: port,
      mediaPort: port + 50,
      durationMs: 2500,
      timeoutMs: 15_000,
    });
    await eventually(async () => {
      const calls = (await srv.api('GET', '/v1/calls')).json.calls as Array<{ tenant: string }>;
      expect(calls.map((c) => c.tenant)).toEqual(['victim']);
    });
    const r = await caller.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
  });
});
