/**
 * Issue 11, dialplans: one tenant's file cannot take another tenant's number or the wildcard, allowlists are
 * own-property lookups, and an unknown provider is refused at load time.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DialplanStore, parseDialplan } from '../../src/routing/dialplan-store.js';
import { allowed } from '../../src/routing/dialplan.js';
import { numberKey } from '../../src/routing/number.js';
import { route } from '../../src/routing/router.js';

const logger = pino({ level: 'silent' });
const plan = (tenant: string, numbers: string, extra = ''): string =>
  `tenant: ${tenant}\nnumbers: ${numbers}\nagent: { provider: echo${extra} }\n`;

describe('numberKey', () => {
  it('gives one key to one number however it is written', () => {
    const forms = ['+15551230000', '15551230000', '+1 (555) 123-0000', '1.555.123.0000', '%2B15551230000'];
    expect(new Set(forms.map(numberKey))).toEqual(new Set(['e164:15551230000']));
  });

  it('keeps SIP user names apart from numbers and case-sensitive', () => {
    expect(numberKey('alice')).toBe('user:alice');
    expect(numberKey('Alice')).not.toBe(numberKey('alice'));
    expect(numberKey('*99#')).toBe('user:*99#');
    expect(numberKey('100')).not.toBe(numberKey('user100'));
  });
});

describe('DialplanStore isolation', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-dialplan-iso-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a later file claiming the same number without "+", naming both files', async () => {
    await writeFile(join(dir, 'a-victim.yaml'), plan('victim', '["+15551230000"]'));
    await writeFile(join(dir, 'b-attacker.yaml'), plan('attacker', '["15551230000", "200"]'));
    const store = new DialplanStore({ dir, logger });
    const problems = await store.load();
    expect(problems).toEqual(['b-attacker.yaml: numbers: "15551230000" is already routed by a-victim.yaml']);
    expect(store.all().map((d) => d.dialplan.tenant)).toEqual(['victim']);
    // The victim keeps its number however the caller writes it.
    for (const calledUser of ['15551230000', '+15551230000', '+1-555-123-0000']) {
      expect(route(store.all(), { calledUser, sourceAddress: '127.0.0.9' })).toMatchObject({
        ok: true,
        tenant: 'victim',
      });
    }
  });

  it('refuses a second tenant claiming "*" and keeps the first one answering', async () => {
    await writeFile(join(dir, 'a.yaml'), plan('first', '["*"]'));
    await writeFile(join(dir, 'b.yaml'), plan('second', '["300", "*"]'));
    const store = new DialplanStore({ dir, logger });
    expect(await store.load()).toEqual(['b.yaml: numbers: "*" is already routed by a.yaml']);
    expect(route(store.all(), { calledUser: '999', sourceAddress: '127.0.0.9' })).toMatchObject({
      tenant: 'first',
    });
    expect(route(store.all(), { calledUser: '300', sourceAddress: '127.0.0.9' })).toMatchObject({
      tenant: 'first',
    });
  });

  it('on hot reload, a file that starts claiming a taken number is refused and its previous version stays', async () => {
    await writeFile(join(dir, 'a.yaml'), plan('a', '["+4930123"]'));
    await writeFile(join(dir, 'b.yaml'), plan('b', '["500"]'));
    const store = new DialplanStore({ dir, logger });
    expect(await store.load()).toEqual([]);
    await writeFile(join(dir, 'b.yaml'), plan('b', '["500", "4930123"]'));
    expect(await store.load()).toEqual(['b.yaml: numbers: "4930123" is already routed by a.yaml']);
    expect(store.byTenant('b')?.dialplan.numbers).toEqual(['500']);
    expect(route(store.all(), { calledUser: '4930123', sourceAddress: '127.0.0.9' })).toMatchObject({
      tenant: 'a',
    });
  });

  it('refuses an unknown provider slug at load time through the injected predicate', async () => {
    await writeFile(join(dir, 'a.yaml'), plan('a', '["1"]').replace('provider: echo', 'provider: nosuch'));
    await writeFile(join(dir, 'b.yaml'), plan('b', '["2"]'));
    const store = new DialplanStore({ dir, logger, knownProvider: (slug) => slug === 'echo' });
    expect(await store.load()).toEqual(['a.yaml: agent.provider: unknown provider "nosuch"']);
    expect(store.all().map((d) => d.file)).toEqual(['b.yaml']);
  });

  it('refuses an unknown failover provider at load time, naming the target (issue 15)', async () => {
    const target = (slug: string): string =>
      `provider: echo, failover: [{ provider: echo }, { provider: ${slug} }]`;
    await writeFile(join(dir, 'a.yaml'), plan('a', '["1"]').replace('provider: echo', target('nosuch')));
    await writeFile(join(dir, 'b.yaml'), plan('b', '["2"]').replace('provider: echo', target('echo')));
    const store = new DialplanStore({ dir, logger, knownProvider: (slug) => slug === 'echo' });
    expect(await store.load()).toEqual(['a.yaml: agent.failover.1.provider: unknown provider "nosuch"']);
    expect(store.byTenant('b')?.dialplan.agent.failover).toEqual([
      { provider: 'echo' },
      { provider: 'echo' },
    ]);
  });
});

describe('allowlists are own-property lookups', () => {
  const text = plan(
    'a',
    '["1"]',
    ', tools: { transfer_call: { targets: { billing: "sip:billing@pbx.example.com" } } }',
  );

  it('finds configured names and nothing inherited from Object.prototype', () => {
    const r = parseDialplan('a.yaml', text);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const targets = r.value.dialplan.agent.tools.transfer_call?.targets;
    expect(allowed(targets, 'billing')).toBe('sip:billing@pbx.example.com');
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(allowed(targets, name), name).toBeUndefined();
      // Even a direct index (as older callers do) finds nothing: the record has no prototype.
      expect(targets?.[name], name).toBeUndefined();
    }
  });

  it('refuses fallback.transfer_to naming an inherited property', () => {
    const r = parseDialplan(
      'a.yaml',
      text.replace(' } } } }', ' } } }, fallback: { transfer_to: constructor } }'),
    );
    expect(r).toMatchObject({ ok: false });
    if (!r.ok) expect(r.message).toContain('agent.fallback.transfer_to');
  });

  it('parses outbound.allow patterns and refuses anything else', () => {
    const ok = parseDialplan(
      'a.yaml',
      `${plan('a', '["1"]')}outbound: { allow: ["+1555*", "4930123", "*"] }\n`,
    );
    expect(ok).toMatchObject({ ok: true });
    if (ok.ok)
      expect(ok.value.dialplan.outbound).toEqual({
        allow: ['+1555*', '4930123', '*'],
        max_concurrent_calls: 10,
        calls_per_minute: 30,
      });
    for (const bad of ['"sip:x@evil"', '"1*5"', '"+1\\r\\nX: y"']) {
      const r = parseDialplan('a.yaml', `${plan('a', '["1"]')}outbound: { allow: [${bad}] }\n`);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.message).toContain('outbound.allow.0');
    }
  });
});
