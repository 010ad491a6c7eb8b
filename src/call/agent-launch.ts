/**
 * Creating a call's agent, and starting it before the call is answered: an inbound INVITE rings while the
 * provider session connects, so the 200 OK can wait until the agent is ready to hear the caller (see
 * inbound.ts for the timing policy).
 */
import {
  AgentError,
  type Agent,
  type AgentErrorEvent,
  type AgentOptions,
  type AudioFormat,
} from '../agent/agent.js';
import type { Logger } from '../observability/logger.js';
import type { AgentProfile } from '../routing/dialplan.js';
import { SipError } from '../sip/signaling.js';
import type { TenantStore } from '../tenants/store.js';
import type { AgentCatalog } from './call-ports.js';
import type { AgentFormats, AgentRequest } from './session-types.js';
import { toolSpecsFor } from './tools/definitions.js';
import { resolveInterruptions } from './turns/interruption-mode.js';
import { vadSettings } from './turns/turn-settings.js';

/** Wire messages kept for a recorder that opens after the agent started (the 200 OK comes first). */
const MAX_EARLY_WIRE_MESSAGES = 500;

export interface AgentLaunchDeps {
  readonly store: TenantStore;
  readonly agents: AgentCatalog;
}

/**
 * The provider's wire messages, held until a recorder subscribes (bounded), then passed straight through.
 * Without a recorder nothing is held.
 */
export class WireTapBuffer {
  #sink: ((direction: 'in' | 'out', message: unknown) => void) | undefined;
  #held: Array<{ direction: 'in' | 'out'; message: unknown }> | undefined;

  constructor(record: boolean) {
    this.#held = record ? [] : undefined;
  }

  readonly tap = (direction: 'in' | 'out', message: unknown): void => {
    if (this.#sink !== undefined) return this.#sink(direction, message);
    if (this.#held !== undefined && this.#held.length < MAX_EARLY_WIRE_MESSAGES)
      this.#held.push({ direction, message });
  };

  attach(sink: (direction: 'in' | 'out', message: unknown) => void): void {
    for (const m of this.#held ?? []) sink(m.direction, m.message);
    this.#held = undefined;
    this.#sink = sink;
  }

  /** No recorder after all: stop holding messages. */
  discard(): void {
    this.#held = undefined;
  }
}

/** A function creating the (not yet started) agent of one call, from the tenant's stored credential. */
export function agentCreator(
  deps: AgentLaunchDeps,
  p: {
    readonly tenant: string;
    readonly profile: AgentProfile;
    /** undefined when the profile's provider is not registered. */
    readonly formats: { readonly input: AudioFormat; readonly output: AudioFormat } | undefined;
    readonly log: Logger;
    readonly wireTap?: (direction: 'in' | 'out', message: unknown) => void;
    /** Formats for a failover target's provider (the call's codec); default: `formats`. */
    readonly formatsFor?: (provider: string) => AgentFormats | undefined;
  },
): (next?: AgentRequest) => Promise<Agent> {
  return async (next) => {
    const t = next?.target;
    // A failover target replaces the provider, and its model and voice (the profile's are the primary's).
    const profile: AgentProfile =
      t === undefined ? p.profile : { ...p.profile, provider: t.provider, model: t.model, voice: t.voice };
    const formats = t === undefined ? p.formats : (p.formatsFor?.(t.provider) ?? p.formats);
    if (formats === undefined) throw new SipError(500, `provider "${profile.provider}" is not registered`);
    // A credential stored under one of the provider's aliases serves a dialplan naming another.
    const names = deps.agents.slugs?.(profile.provider) ?? [profile.provider];
    let stored: Awaited<ReturnType<TenantStore['getCredential']>>;
    for (const name of names) {
      stored = await deps.store.getCredential(p.tenant, name);
      if (stored !== undefined) break;
    }
    const opts: AgentOptions = {
      logger: p.log,
      inputFormat: formats.input,
      outputFormat: formats.output,
      tools: toolSpecsFor(profile),
      interruptions: resolveInterruptions(profile.barge_in, deps.agents.capabilities(profile.provider)),
      ...(profile.instructions === undefined ? {} : { instructions: profile.instructions }),
      ...(profile.greeting === undefined ? {} : { greeting: profile.greeting }),
      ...(profile.voice === undefined ? {} : { voice: profile.voice }),
      ...(profile.model === undefined ? {} : { model: profile.model }),
      ...(profile.temperature === undefined ? {} : { temperature: profile.temperature }),
      ...(profile.turn === undefined ? {} : { vad: vadSettings(profile.turn) }),
      ...(p.wireTap === undefined ? {} : { wireTap: p.wireTap }),
      ...(next?.history === undefined || next.history.length === 0 ? {} : { history: next.history }),
    };
    try {
      return deps.agents.create({ ...(stored?.fields ?? {}), provider: profile.provider }, opts);
    } catch (err) {
      // Nothing stored at all is its own error, not "credential is missing <field>".
      if (stored === undefined && err instanceof AgentError && err.code === 'AGENT_CREDENTIAL_INVALID') {
        throw new AgentError(
          'AGENT_CREDENTIAL_INVALID',
          `no ${profile.provider} credential for tenant ${p.tenant} (looked under ${names.join(', ')})`,
        );
      }
      throw err;
    }
  };
}

/**
 * An agent created and started ahead of the session that will own it. Until the session adopts it, an
 * `error` event is held (an EventEmitter 'error' without a listener would throw and take the process down)
 * and replayed to the session. `close()` is idempotent and also stops an agent still being created.
 */
export class PreparedAgent {
  /** Resolves with the started agent; rejects when it could not be created or started (or was closed). */
  readonly ready: Promise<Agent>;
  #agent: Agent | undefined;
  #closed = false;
  #adopted = false;
  readonly #early: AgentErrorEvent[] = [];
  readonly #onEarlyError = (e: AgentErrorEvent): void => {
    if (this.#early.length < 16) this.#early.push(e);
  };

  constructor(create: () => Promise<Agent>) {
    this.ready = (async () => {
      const agent = await create();
      this.#agent = agent;
      agent.on('error', this.#onEarlyError);
      try {
        if (this.#closed) throw new SipError(487, 'call ended before the agent started');
        await agent.start();
        if (this.#closed) throw new SipError(487, 'call ended before the agent started');
        return agent;
      } catch (err) {
        // A provider that failed (or was abandoned) half-way must not keep its socket open.
        await agent.close().catch(() => undefined);
        throw err;
      }
    })();
    // Observed by whoever awaits it; never an unhandled rejection when nobody does (CANCEL).
    this.ready.catch(() => undefined);
  }

  /** The agent object, once created (started or not). */
  get agent(): Agent | undefined {
    return this.#agent;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The session has wired its own listeners: stop holding errors and return the ones seen so far. */
  adopt(): AgentErrorEvent[] {
    this.#adopted = true;
    this.#agent?.off('error', this.#onEarlyError);
    return this.#early.splice(0);
  }

  /** Closes the agent unless a session adopted it (the session closes it then). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#adopted) return;
    const agent = this.#agent;
    if (agent === undefined) return;
    await agent.close().catch(() => undefined);
    agent.off('error', this.#onEarlyError);
  }
}
