import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { AgentError, type AgentOptions } from '../../src/agent/agent.js';
import type { ProviderDefinition } from '../../src/agent/provider.js';
import type { AgentCatalog } from '../../src/call/call-manager.js';
import type { ProviderCatalog } from '../../src/http/ports.js';
import { echoProvider, registerEcho } from '../../src/agent/providers/echo/index.js';
import { ProviderRegistry } from '../../src/agent/registry.js';
import { captureLogger } from './transport/helpers.js';
import { concat, padWithSilence, readWavFixture } from './providers/echo/fixture-audio.js';

const keyedSchema = z.object({
  apiKey: z.string().min(1),
  url: z.string().url().optional(),
  region: z.enum(['intl', 'cn']).default('intl'),
});

function keyedProvider(
  slug: string,
  created: unknown[] = [],
): ProviderDefinition<z.infer<typeof keyedSchema>> {
  return {
    slug,
    displayName: `Keyed ${slug}`,
    credentialSchema: keyedSchema,
    secretFields: ['apiKey'],
    capabilities: {
      inputFormats: [{ encoding: 'pcmu', sampleRateHz: 8000 }],
      outputFormats: [{ encoding: 'pcmu', sampleRateHz: 8000 }],
      truncate: false,
      tools: false,
    },
    create: (credential, options, deps) => {
      created.push(credential);
      return echoProvider.create({}, { ...options, inputFormat: PCM8, outputFormat: PCM8 }, deps);
    },
  };
}

const PCM8 = { encoding: 'pcm16', sampleRateHz: 8000 } as const;
const PCMU = { encoding: 'pcmu', sampleRateHz: 8000 } as const;

function options(extra: Partial<AgentOptions> = {}): AgentOptions {
  return { inputFormat: PCM8, outputFormat: PCM8, logger: captureLogger().logger, ...extra };
}

function thrown(fn: () => unknown): AgentError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AgentError);
    return e as AgentError;
  }
  throw new Error('expected a throw');
}

describe('ProviderRegistry', () => {
  it('registers slugs and aliases, case-insensitively, and lists them sorted', () => {
    const r = new ProviderRegistry();
    registerEcho(r);
    const qwen = keyedProvider('qwen-omni');
    r.register(qwen, 'aliyun_omni', 'DashScope_Omni');
    r.register(keyedProvider('azure-openai'));
    expect(r.registeredProviders()).toEqual([
      'aliyun_omni',
      'azure-openai',
      'dashscope_omni',
      'echo',
      'qwen-omni',
    ]);
    expect(r.lookup('ALIYUN_OMNI')).toBe(qwen);
    expect(r.lookup('dashscope_omni')).toBe(qwen);
    expect(r.lookup('nope')).toBeUndefined();
  });

  it('satisfies the HTTP and call-layer ports, and reports capabilities', () => {
    const r = new ProviderRegistry();
    registerEcho(r);
    const ports: [ProviderCatalog, AgentCatalog] = [r, r];
    expect(ports).toHaveLength(2);
    expect(r.capabilities('ECHO')).toBe(echoProvider.capabilities);
    expect(r.capabilities('nope')).toBeUndefined();
    const agent = r.create({ provider: 'echo' }, options());
    expect(agent.provider).toBe('echo');
    void agent.close();
  });

  it('a duplicate slug or alias throws', () => {
    const r = new ProviderRegistry();
    r.register(keyedProvider('qwen-omni'), 'aliyun_omni');
    expect(() => r.register(keyedProvider('qwen-omni'))).toThrow(/already registered/);
    expect(() => r.register(keyedProvider('other'), 'Aliyun_Omni')).toThrow(/already registered/);
    expect(() => r.register(keyedProvider('x'), 'x')).toThrow(/already registered/);
    expect(r.registeredProviders()).toEqual(['aliyun_omni', 'qwen-omni']);
  });

  it('providers() describes each provider once, with fields from its schema', () => {
    const r = new ProviderRegistry();
    r.register(keyedProvider('qwen-omni'), 'dashscope_omni', 'aliyun_omni');
    registerEcho(r);
    expect(r.providers()).toEqual([
      {
        slug: 'echo',
        aliases: [],
        displayName: echoProvider.displayName,
        credentialFields: [{ name: 'url', required: false, secret: false }],
        turn: echoProvider.capabilities.turn,
      },
      {
        slug: 'qwen-omni',
        aliases: ['aliyun_omni', 'dashscope_omni'],
        displayName: 'Keyed qwen-omni',
        credentialFields: [
          { name: 'apiKey', required: true, secret: true },
          { name: 'url', required: false, secret: false },
          { name: 'region', required: false, secret: false },
        ],
        // A provider declaring no turn capabilities honours no `turn:` setting (issue 14).
        turn: null,
      },
    ]);
  });

  it('unknown provider → AGENT_UNKNOWN_PROVIDER', () => {
    const r = new ProviderRegistry();
    registerEcho(r);
    expect(thrown(() => r.createAgentFromCredential({ provider: 'nope' }, options())).code).toBe(
      'AGENT_UNKNOWN_PROVIDER',
    );
    expect(thrown(() => r.validateCredential('nope', {})).code).toBe('AGENT_UNKNOWN_PROVIDER');
    const noProvider = { provider: undefined } as unknown as { provider: string };
    expect(thrown(() => r.createAgentFromCredential(noProvider, options())).code).toBe(
      'AGENT_UNKNOWN_PROVIDER',
    );
  });

  it('a missing or invalid field is named in the error, without its value', () => {
    const r = new ProviderRegistry();
    r.register(keyedProvider('openai'));
    const missing = thrown(() => r.createAgentFromCredential({ provider: 'openai' }, options()));
    expect(missing.code).toBe('AGENT_CREDENTIAL_INVALID');
    expect(missing.field).toBe('apiKey');
    expect(missing.message).toContain('apiKey');
    const invalid = thrown(() =>
      r.validateCredential('openai', { apiKey: 'sk-test-SECRET123', url: 'not a url' }),
    );
    expect(invalid.field).toBe('url');
    expect(invalid.message).toContain('url');
    expect(invalid.message).not.toContain('not a url');
    expect(thrown(() => r.validateCredential('openai', 'sk-test-SECRET123')).message).not.toContain('SECRET');
  });

  it('validateCredential returns the parsed credential (defaults applied, provider key ignored)', () => {
    const r = new ProviderRegistry();
    r.register(keyedProvider('openai'));
    expect(r.validateCredential('openai', { provider: 'openai', apiKey: 'k' })).toEqual({
      apiKey: 'k',
      region: 'intl',
    });
  });

  it('passes the parsed credential and deps to create', () => {
    const r = new ProviderRegistry();
    const created: unknown[] = [];
    r.register(keyedProvider('openai', created));
    const agent = r.createAgentFromCredential(
      { provider: 'OpenAI', apiKey: 'k', region: 'cn' },
      options({ inputFormat: PCMU, outputFormat: PCMU }),
    );
    expect(created).toEqual([{ apiKey: 'k', region: 'cn' }]);
    void agent.close();
  });

  it('formats outside the capabilities → AGENT_FORMAT_UNSUPPORTED', () => {
    const r = new ProviderRegistry();
    registerEcho(r);
    r.register(keyedProvider('openai'));
    expect(
      thrown(() => r.createAgentFromCredential({ provider: 'echo' }, options({ inputFormat: PCMU }))).code,
    ).toBe('AGENT_FORMAT_UNSUPPORTED');
    expect(
      thrown(() =>
        r.createAgentFromCredential({ provider: 'openai', apiKey: 'k' }, options({ inputFormat: PCMU })),
      ).code,
    ).toBe('AGENT_FORMAT_UNSUPPORTED');
    // In the capability lists but not a pair echo can do: the agent itself refuses.
    expect(
      thrown(() =>
        r.createAgentFromCredential(
          { provider: 'echo' },
          options({ outputFormat: { encoding: 'pcm16', sampleRateHz: 16000 } }),
        ),
      ).code,
    ).toBe('AGENT_FORMAT_UNSUPPORTED');
  });

  it('no log line ever contains the apiKey', async () => {
    const { logger, lines } = captureLogger();
    const r = new ProviderRegistry();
    registerEcho(r);
    r.register(keyedProvider('keyed'));
    const credential = { provider: 'echo', apiKey: 'sk-test-SECRET123', url: 'ws://127.0.0.1:1/' };
    const agent = r.createAgentFromCredential(credential, options({ logger, greeting: 'Hello' }));
    await agent.start();
    await agent.greet();
    const { pcm } = readWavFixture('caller-billing-question.wav');
    const ended = new Promise<void>((resolve) => agent.on('assistant.turn.end', () => resolve()));
    const audio = concat(padWithSilence(pcm, 8000, 200, 1000));
    for (let o = 0; o < audio.length; o += 160) agent.pushAudio(audio.subarray(o, o + 160));
    await ended;
    await agent.sendText('The caller pressed #');
    await agent.sendToolResult('call-1', { ok: true });
    await agent.close();
    expect(() =>
      r.createAgentFromCredential(
        { provider: 'keyed', apiKey: 'sk-test-SECRET123', url: 'bad' },
        options({ logger }),
      ),
    ).toThrow(AgentError);
    logger.info({ credential }, 'a careless caller logs the whole credential');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).not.toContain('SECRET123');
  });
});
