/**
 * Issue 13: a call for one of a tenant's registered contacts is routed among that tenant's dialplans only,
 * by the AOR's user part — never to another tenant's number or wildcard.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DialplanStore } from '../../src/routing/dialplan-store.js';
import { route, routeRegistered } from '../../src/routing/router.js';

const plan = (tenant: string, numbers: string): string =>
  `tenant: ${tenant}\nnumbers: ${numbers}\nagent: { provider: echo }\n`;

describe('routeRegistered', () => {
  let dir: string;
  let store: DialplanStore;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-route-reg-'));
    await writeFile(join(dir, 'acme.yaml'), plan('acme', '["1001", "2002"]'));
    await writeFile(join(dir, 'other.yaml'), plan('other', '["*"]'));
    await writeFile(
      join(dir, 'guarded.yaml'),
      plan('guarded', '["3003"]').replace('agent', 'allow_from: ["10.0.0.0/8"]\nagent'),
    );
    store = new DialplanStore({ dir, logger: pino({ level: 'silent' }) });
    const problems = await store.load();
    expect(problems).toEqual([]);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("matches the AOR user against the registration tenant's numbers", () => {
    const r = routeRegistered(store.all(), { tenant: 'acme', calledUser: '2002' }, '127.0.0.1');
    expect(r).toMatchObject({ ok: true, tenant: 'acme', file: 'acme.yaml' });
  });

  it("never falls through to another tenant's wildcard (plain routing would)", () => {
    expect(route(store.all(), { calledUser: '9999', sourceAddress: '127.0.0.1' })).toMatchObject({
      ok: true,
      tenant: 'other',
    });
    expect(routeRegistered(store.all(), { tenant: 'acme', calledUser: '9999' }, '127.0.0.1')).toEqual({
      ok: false,
      status: 404,
      reason: 'Not Found',
    });
    // Another tenant's exact number is not reachable through acme's registration either.
    expect(routeRegistered(store.all(), { tenant: 'acme', calledUser: '3003' }, '10.1.1.1').ok).toBe(false);
  });

  it("keeps the dialplan's allow_from", () => {
    expect(
      routeRegistered(store.all(), { tenant: 'guarded', calledUser: '3003' }, '192.0.2.1'),
    ).toMatchObject({
      ok: false,
      status: 403,
    });
    expect(routeRegistered(store.all(), { tenant: 'guarded', calledUser: '3003' }, '10.9.9.9').ok).toBe(true);
  });
});
