import { z } from 'zod';
import { AgentError, type Agent, type AgentOptions } from './agent.js';
import type { AudioFormat } from './events.js';
import type { AgentDeps, ProviderCapabilities, ProviderDefinition, TurnCapabilities } from './provider.js';

/** A definition with its credential type erased, as the registry stores it. */
type StoredDefinition = ProviderDefinition;

export interface CredentialField {
  readonly name: string;
  readonly required: boolean;
  /** Masked on read and never logged. */
  readonly secret: boolean;
}

/** One provider as `GET /v1/providers` lists it. */
export interface ProviderInfo {
  readonly slug: string;
  readonly aliases: readonly string[];
  readonly displayName: string;
  readonly credentialFields: readonly CredentialField[];
  /** The profile `turn:` settings it honours (issue 14); null: none; absent: not an agent provider. */
  readonly turn?: TurnCapabilities | null;
}

/**
 * Provider definitions by slug (the seed `realtime.Register`, without the global): providers are registered
 * explicitly by whoever builds the registry, never as an import side effect. Slugs are case-insensitive.
 */
export class ProviderRegistry {
  readonly #bySlug = new Map<string, StoredDefinition>();
  readonly #aliases = new Map<StoredDefinition, string[]>();

  /** Registers `provider.slug` and `aliases`. Any slug already taken throws (a wiring bug, not data). */
  register<C extends { readonly url?: string | undefined }>(
    provider: ProviderDefinition<C>,
    ...aliases: string[]
  ): void {
    const stored = provider as unknown as StoredDefinition;
    const slugs = [provider.slug, ...aliases].map(normalise);
    for (const [i, slug] of slugs.entries()) {
      if (slug === '') throw new Error('provider slug must not be empty');
      if (this.#bySlug.has(slug) || slugs.indexOf(slug) !== i) {
        throw new Error(`provider slug already registered: ${slug}`);
      }
    }
    for (const slug of slugs) this.#bySlug.set(slug, stored);
    this.#aliases.set(stored, slugs.slice(1));
  }

  lookup(slug: string): ProviderDefinition | undefined {
    return this.#bySlug.get(normalise(slug));
  }

  /** Every registered slug, aliases included, sorted. */
  registeredProviders(): string[] {
    return [...this.#bySlug.keys()].sort();
  }

  /** One entry per provider (aliases folded in), sorted by slug; credential fields come from the zod schema. */
  providers(): ProviderInfo[] {
    return [...this.#aliases.entries()]
      .map(([definition, aliases]) => ({
        slug: normalise(definition.slug),
        aliases: [...aliases].sort(),
        displayName: definition.displayName,
        credentialFields: credentialFields(definition),
        turn: definition.capabilities.turn ?? null,
      }))
      .sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
  }

  /**
   * Parses a stored credential for `slug` (a `provider` key is ignored). Throws AGENT_UNKNOWN_PROVIDER, or
   * AGENT_CREDENTIAL_INVALID naming the first rejected field. Messages never contain credential values.
   */
  validateCredential(
    slug: string,
    raw: unknown,
  ): Readonly<Record<string, unknown>> & { readonly url?: string | undefined } {
    const definition = this.#require(slug);
    const input = withoutProviderKey(raw);
    const result = definition.credentialSchema.safeParse(input);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const field = issue?.path.length ? String(issue.path[0]) : undefined;
    const missing =
      field !== undefined &&
      typeof input === 'object' &&
      input !== null &&
      (input as Record<string, unknown>)[field] === undefined;
    const what =
      field === undefined
        ? 'is not an object'
        : missing
          ? `is missing "${field}"`
          : `has an invalid "${field}"`;
    throw new AgentError('AGENT_CREDENTIAL_INVALID', `${normalise(slug)} credential ${what}`, {
      ...(field === undefined ? {} : { field }),
    });
  }

  /**
   * The seed `NewAgentFromCredential`: resolves `credential.provider`, validates the credential and the
   * requested audio formats against the provider's capabilities, then creates the agent (not started).
   */
  createAgentFromCredential(
    credential: { readonly provider: string } & Readonly<Record<string, unknown>>,
    options: AgentOptions,
    deps: AgentDeps = {},
  ): Agent {
    const slug = typeof credential.provider === 'string' ? credential.provider : '';
    const definition = this.#require(slug);
    const parsed = this.validateCredential(slug, credential);
    const { inputFormats, outputFormats } = definition.capabilities;
    if (!inputFormats.some((f) => sameFormat(f, options.inputFormat))) {
      throw new AgentError(
        'AGENT_FORMAT_UNSUPPORTED',
        `${definition.slug} does not accept input ${formatName(options.inputFormat)}`,
      );
    }
    if (!outputFormats.some((f) => sameFormat(f, options.outputFormat))) {
      throw new AgentError(
        'AGENT_FORMAT_UNSUPPORTED',
        `${definition.slug} cannot produce output ${formatName(options.outputFormat)}`,
      );
    }
    // The schema produced `parsed`, so it is the definition's own credential type (erased here).
    return definition.create(parsed, options, deps);
  }

  /**
   * Every name a credential for `slug`'s provider may be stored under: the slug asked for first, then the
   * provider's own slug and its aliases (a credential stored as `aliyun_omni` serves a dialplan naming
   * `qwen-omni`). An unknown slug is only itself.
   */
  slugs(slug: string): string[] {
    const definition = this.lookup(slug);
    if (definition === undefined) return [slug];
    const names = [normalise(definition.slug), ...(this.#aliases.get(definition) ?? [])];
    return [slug, ...names.filter((n) => n !== slug)];
  }

  /** The capabilities of the provider behind `slug`, for choosing formats before creating an agent. */
  capabilities(slug: string): ProviderCapabilities | undefined {
    return this.lookup(slug)?.capabilities;
  }

  /** createAgentFromCredential, under the name the call layer's AgentCatalog port uses. */
  create(
    credential: { readonly provider: string } & Readonly<Record<string, unknown>>,
    options: AgentOptions,
    deps: AgentDeps = {},
  ): Agent {
    return this.createAgentFromCredential(credential, options, deps);
  }

  #require(slug: string): StoredDefinition {
    const definition = this.#bySlug.get(normalise(slug));
    if (definition === undefined) {
      throw new AgentError('AGENT_UNKNOWN_PROVIDER', `unknown provider: ${slug === '' ? '(none)' : slug}`);
    }
    return definition;
  }
}

function normalise(slug: string): string {
  return slug.trim().toLowerCase();
}

function withoutProviderKey(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !('provider' in raw)) return raw;
  const { provider: _provider, ...rest } = raw as Record<string, unknown>;
  return rest;
}

function credentialFields(definition: StoredDefinition): CredentialField[] {
  const schema: unknown = definition.credentialSchema;
  if (!(schema instanceof z.ZodObject)) return [];
  return Object.entries(schema.shape as Record<string, z.ZodType>).map(([name, field]) => ({
    name,
    required: !field.safeParse(undefined).success,
    secret: definition.secretFields.includes(name),
  }));
}

export function sameFormat(a: AudioFormat, b: AudioFormat): boolean {
  return a.encoding === b.encoding && a.sampleRateHz === b.sampleRateHz;
}

function formatName(f: AudioFormat): string {
  return `${f.encoding}@${f.sampleRateHz}`;
}
