import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DialplanStore, parseDialplan } from '../../src/routing/dialplan-store.js';
import { route } from '../../src/routing/router.js';

const logger = pino({ level: 'silent' });

const acme = `
tenant: acme
numbers: ["+15551230000", "100"]
allow_from: ["203.0.113.0/24", "127.0.0.1"]
agent:
  provider: openai
  model: gpt-realtime
  voice: marin
  instructions: "You are the Acme receptionist"
  greeting: "Greet the caller and ask how you can help."
  tools:
    transfer_call: { targets: { billing: "sip:billing@pbx.example.com" }, method: refer }
    end_call: {}
    send_dtmf: {}
    webhooks: [{ name: lookup_order, url: "https://hooks.example.com/order", description: "Look up an order", parameters: { type: object } }]
  barge_in: { enabled: true }
  limits: { max_duration_s: 3600, idle_timeout_s: 30 }
  fallback: { audio: "prompts/sorry.wav", transfer_to: billing }
  record: true
`;

describe('parseDialplan', () => {
  it('accepts the documented example with defaults filled', () => {
    const r = parseDialplan('acme.yaml', acme);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.dialplan.tenant).toBe('acme');
    expect(r.value.dialplan.agent.tools.transfer_call?.targets).toEqual({
      billing: 'sip:billing@pbx.example.com',
    });
    expect(r.value.dialplan.agent.tools.webhooks[0]?.timeout_ms).toBe(5000);
    expect(r.value.dialplan.agent.record).toBe(true);
  });

  it('accepts the shipped demo dialplan', async () => {
    const text = await readFile(new URL('../../dialplans/demo.yaml', import.meta.url), 'utf8');
    const r = parseDialplan('demo.yaml', text);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value.dialplan.numbers).toEqual(['*']);
      expect(r.value.dialplan.agent.provider).toBe('echo');
    }
  });

  it.each([
    ['not: [valid', 'invalid YAML'],
    ['tenant: Acme Corp\nnumbers: ["1"]\nagent: { provider: echo }', 'tenant'],
    ['tenant: a\nnumbers: []\nagent: { provider: echo }', 'numbers'],
    ['tenant: a\nnumbers: ["1"]\nagent: { provider: echo, colour: red }', 'agent'],
    ['tenant: a\nnumbers: ["1"]\nallow_from: ["10.0.0.0/99"]\nagent: { provider: echo }', 'allow_from'],
    [
      'tenant: a\nnumbers: ["1"]\nagent: { provider: echo, tools: { transfer_call: { targets: { x: "http://evil" } } } }',
      'agent.tools.transfer_call.targets.x',
    ],
    [
      'tenant: a\nnumbers: ["1"]\nagent: { provider: echo, fallback: { transfer_to: nowhere } }',
      'agent.fallback.transfer_to',
    ],
  ])('rejects %j naming the field', (text, field) => {
    const r = parseDialplan('bad.yaml', text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toContain('bad.yaml');
      expect(r.message).toContain(field);
    }
  });
});

describe('route', () => {
  const plans = [
    parseDialplan('acme.yaml', acme),
    parseDialplan('demo.yaml', 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo }'),
  ]
    .map((r) => (r.ok ? r.value : undefined))
    .filter((x) => x !== undefined);

  it('routes an exact number, with or without "+", over the wildcard', () => {
    expect(route(plans, { calledUser: '+15551230000', sourceAddress: '203.0.113.9' })).toMatchObject({
      ok: true,
      tenant: 'acme',
    });
    expect(route(plans, { calledUser: '15551230000', sourceAddress: '203.0.113.9' })).toMatchObject({
      ok: true,
      tenant: 'acme',
    });
    expect(route(plans, { calledUser: '999', sourceAddress: '198.51.100.1' })).toMatchObject({
      ok: true,
      tenant: 'demo',
    });
  });

  it('answers 403 for a source outside allow_from (IPv4-mapped addresses too)', () => {
    expect(route(plans, { calledUser: '100', sourceAddress: '198.51.100.1' })).toEqual({
      ok: false,
      status: 403,
      reason: 'Forbidden',
    });
    expect(route(plans, { calledUser: '100', sourceAddress: '::ffff:203.0.113.7' })).toMatchObject({
      ok: true,
      tenant: 'acme',
    });
    expect(route(plans, { calledUser: '100', sourceAddress: '127.0.0.1' })).toMatchObject({ ok: true });
  });

  it('answers 404 for an unknown number when there is no wildcard', () => {
    expect(route(plans.slice(0, 1), { calledUser: '555', sourceAddress: '203.0.113.9' })).toEqual({
      ok: false,
      status: 404,
      reason: 'Not Found',
    });
  });
});

describe('DialplanStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-dialplans-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads files, keeps the previous version when a change is invalid, and drops removed files', async () => {
    await writeFile(join(dir, 'acme.yaml'), acme);
    await writeFile(join(dir, 'README.txt'), 'not a dialplan');
    const store = new DialplanStore({ dir, logger });
    expect(await store.load()).toEqual([]);
    expect(store.all().map((d) => d.dialplan.tenant)).toEqual(['acme']);

    await writeFile(join(dir, 'acme.yaml'), acme.replace('provider: openai', 'provider: 42'));
    const problems = await store.load();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^acme\.yaml: agent\.provider/);
    expect(store.byTenant('acme')?.dialplan.agent.provider).toBe('openai');

    await rm(join(dir, 'acme.yaml'));
    await store.load();
    expect(store.all()).toEqual([]);
  });

  it('rejects a second file claiming the same tenant or number', async () => {
    await writeFile(join(dir, 'a.yaml'), 'tenant: a\nnumbers: ["1", "2"]\nagent: { provider: echo }');
    await writeFile(join(dir, 'b.yaml'), 'tenant: a\nnumbers: ["3"]\nagent: { provider: echo }');
    await writeFile(join(dir, 'c.yaml'), 'tenant: c\nnumbers: ["2"]\nagent: { provider: echo }');
    const store = new DialplanStore({ dir, logger });
    const problems = await store.load();
    expect(problems).toEqual([
      'b.yaml: tenant: "a" is already defined by a.yaml',
      'c.yaml: numbers: "2" is already routed by a.yaml',
    ]);
    expect(store.all().map((d) => d.file)).toEqual(['a.yaml']);
  });

  it('hot-reloads on change', async () => {
    await writeFile(join(dir, 'a.yaml'), 'tenant: a\nnumbers: ["1"]\nagent: { provider: echo }');
    const store = new DialplanStore({ dir, logger });
    await store.load();
    store.watch(20);
    try {
      const loaded = new Promise<{ file: string; tenant: string }>((resolve) =>
        store.once('loaded', resolve),
      );
      await writeFile(join(dir, 'a.yaml'), 'tenant: a\nnumbers: ["1", "7"]\nagent: { provider: echo }');
      await expect(loaded).resolves.toEqual({ file: 'a.yaml', tenant: 'a' });
      expect(store.byTenant('a')?.dialplan.numbers).toEqual(['1', '7']);
    } finally {
      store.close();
    }
  });
});
