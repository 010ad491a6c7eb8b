/**
 * Which stored credential a call's agent is made from (issue 19): a credential stored under one of the
 * provider's aliases serves a dialplan naming another; nothing stored at all says "no credential", not
 * "credential is missing apiKey".
 */
import { describe, expect, it } from 'vitest';
import { createDefaultRegistry } from '../../src/agent/default-registry.js';
import { agentCreator } from '../../src/call/agent-launch.js';
import { agentProfileSchema } from '../../src/routing/dialplan.js';
import type { TenantStore } from '../../src/tenants/store.js';
import { createLogger } from '../../src/observability/logger.js';

const registry = createDefaultRegistry();
const log = createLogger({ level: 'silent' });

/** A store holding `records` (provider → fields) for tenant acme; it records every lookup. */
function storeWith(records: Record<string, Record<string, unknown>>): {
  store: TenantStore;
  asked: string[];
} {
  const asked: string[] = [];
  const store = {
    getCredential: async (tenant: string, provider: string) => {
      asked.push(provider);
      const fields = tenant === 'acme' ? records[provider] : undefined;
      return fields === undefined ? undefined : { fields, updatedAt: new Date(0).toISOString() };
    },
  } as unknown as TenantStore;
  return { store, asked };
}

function creator(store: TenantStore, provider: string) {
  const profile = agentProfileSchema.parse({ provider });
  const caps = registry.capabilities(provider)!;
  return agentCreator(
    { store, agents: registry },
    {
      tenant: 'acme',
      profile,
      formats: { input: caps.inputFormats[0]!, output: caps.outputFormats[0]! },
      log,
    },
  );
}

describe('agent credential lookup', () => {
  it('lists the asked slug, then the provider slug and its aliases', () => {
    expect(registry.slugs('qwen-omni')).toEqual(['qwen-omni', 'aliyun_omni', 'dashscope_omni']);
    expect(registry.slugs('aliyun_omni')).toEqual(['aliyun_omni', 'qwen-omni', 'dashscope_omni']);
    expect(registry.slugs('nope')).toEqual(['nope']);
  });

  it('a dialplan naming qwen-omni uses the credential stored as aliyun_omni', async () => {
    const { store, asked } = storeWith({
      aliyun_omni: { apiKey: 'sk-alias-test', url: 'wss://example.invalid/ws' },
    });
    const agent = await creator(store, 'qwen-omni')();
    expect(agent.provider).toBe('qwen-omni');
    expect(asked).toEqual(['qwen-omni', 'aliyun_omni']);
    await agent.close();
  });

  it('nothing stored under any name: "no qwen-omni credential", naming where it looked', async () => {
    const { store } = storeWith({});
    await expect(creator(store, 'qwen-omni')()).rejects.toThrow(
      'no qwen-omni credential for tenant acme (looked under qwen-omni, aliyun_omni, dashscope_omni)',
    );
  });

  it('a stored credential that lacks a field still names the field', async () => {
    const { store } = storeWith({ 'qwen-omni': { url: 'wss://example.invalid/ws' } });
    await expect(creator(store, 'qwen-omni')()).rejects.toThrow(/credential is missing "apiKey"/);
  });
});
